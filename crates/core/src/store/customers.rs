//! Customers: the record, its emails, phones, tags and branch assignment.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Row, SqliteConnection};

use super::outbox::{self, Op};
use super::rows::{insert_batch, insert_children, update_main, NewCustomer};
use super::{time, Store};
use crate::domain::validate::normalize_customer;
use crate::domain::{
    Address, Assignment, Birthday, Customer, CustomerFields, CustomerId, Email, Gender, Origin,
    Phone,
};
use crate::hlc::Stamp;
use crate::{Error, Result};

/// The change a customer's outbox entry carries: which fields changed, not their values.
/// The sync client reads the values, with their clock stamps, from the customer row when it
/// sends the change, so the queue never holds a second copy of personal data.
///
/// `base` holds each changed field's stamp before the change: a device that receives the
/// change with a different stamp for that field had a concurrent edit (a conflict).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CustomerChange {
    pub origin: Origin,
    pub changed: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub base: BTreeMap<String, String>,
}

impl Store {
    /// Adds a global customer from the form; `region` reads phones typed without a
    /// country code.
    #[tracing::instrument(skip_all)]
    pub async fn create_customer(
        &self,
        draft: &CustomerFields,
        assignment: &Assignment,
        region: &str,
        now: DateTime<Utc>,
    ) -> Result<Customer> {
        let fields = normalize(draft, region)?;
        // A branch's new customers are its own local customers.
        let (origin, assignment) = match self.local_branch().await? {
            Some(branch) => (Origin::Local(branch), Assignment::Branches(vec![branch])),
            None => (Origin::Global, assignment.clone()),
        };
        let mut tx = self.pool().begin().await?;
        check_branches(&mut tx, &assignment).await?;
        let stamp = self.stamp(now);
        let id = CustomerId::new();
        let new = NewCustomer {
            id,
            origin,
            assignment: &assignment,
            fields: &fields,
            stamps: all_fields_stamped(stamp),
        };
        let rows = [new];
        insert_batch(&mut tx, &rows, now).await?;
        outbox::push_customers(&mut tx, &rows, stamp, now).await?;
        tx.commit().await?;
        tracing::info!(customer.id = %id, "customer created");
        self.customer(id).await
    }

    /// Changes a customer; only the fields that differ get a new clock stamp.
    #[tracing::instrument(skip_all, fields(customer.id = %id))]
    pub async fn update_customer(
        &self,
        id: CustomerId,
        draft: &CustomerFields,
        assignment: &Assignment,
        region: &str,
        now: DateTime<Utc>,
    ) -> Result<Customer> {
        let fields = normalize(draft, region)?;
        let before = self.customer(id).await?;
        self.refuse_global_in_branch(&before).await?;
        if changed_fields(&before, &fields, assignment).is_empty() {
            return Ok(before);
        }

        let mut tx = self.pool().begin().await?;
        super::deletions::refuse_if_pending(&mut tx, id).await?;
        check_branches(&mut tx, assignment).await?;
        let stamp = self.stamp(now);
        replace(&mut tx, &before, &fields, assignment, stamp, now).await?;
        tx.commit().await?;
        tracing::info!("customer updated");
        self.customer(id).await
    }

    /// One customer with every field.
    pub async fn customer(&self, id: CustomerId) -> Result<Customer> {
        let mut conn = self.pool().acquire().await?;
        load(&mut conn, id).await
    }
}

impl Store {
    /// In a branch's view, global customers are read-only: the server would refuse the
    /// change anyway, and the person should hear it now.
    pub(crate) async fn refuse_global_in_branch(&self, customer: &Customer) -> Result<()> {
        if customer.origin == Origin::Global && self.local_branch().await?.is_some() {
            return Err(Error::BranchEditsOff);
        }
        Ok(())
    }
}

/// The form's draft in stored form, read with phones of `region`.
fn normalize(draft: &CustomerFields, region: &str) -> Result<CustomerFields> {
    if !crate::domain::contact::is_known_region(region) {
        return Err(Error::InvalidInput {
            field: "region",
            reason: "not a known country code".into(),
        });
    }
    normalize_customer(draft, region).map_err(Error::InvalidCustomer)
}

/// Rewrites a stored customer with `fields` and `assignment`; only the fields that differ
/// get `stamp`. Appointments, bookings and creation time stay.
pub(crate) async fn replace(
    conn: &mut SqliteConnection,
    before: &Customer,
    fields: &CustomerFields,
    assignment: &Assignment,
    stamp: Stamp,
    now: DateTime<Utc>,
) -> Result<()> {
    let id = before.id;
    let changed = changed_fields(before, fields, assignment);
    let old = stamp_map(&stamps_of(conn, id).await?);
    let base = changed
        .iter()
        .filter_map(|f| Some(((*f).to_owned(), stamp_of(&old, f)?.to_owned())))
        .collect();
    let mut stamps = old;
    for field in &changed {
        stamps.insert((*field).to_owned(), stamp.to_string());
    }
    let new = NewCustomer {
        id,
        origin: before.origin,
        assignment,
        fields,
        stamps: stamps_text(&stamps),
    };
    rewrite(conn, &new, now).await?;
    let change = CustomerChange {
        origin: before.origin,
        changed: changed.iter().map(|f| (*f).to_owned()).collect(),
        base,
    };
    outbox::push(
        conn,
        "customer",
        &id.to_string(),
        Op::Upsert,
        &change,
        stamp,
        now,
    )
    .await
}

/// The outbox payload of a newly created customer: every field changed, written `*` as in
/// the clock stamps.
pub(crate) fn created_payload(c: &NewCustomer<'_>) -> Result<String> {
    let change = CustomerChange {
        origin: c.origin,
        changed: vec!["*".to_owned()],
        base: BTreeMap::new(),
    };
    serde_json::to_string(&change).map_err(|e| Error::InvalidInput {
        field: "outbox payload",
        reason: e.to_string(),
    })
}

/// Stamps where one stamp covers every field.
pub(crate) fn all_fields_stamped(stamp: Stamp) -> String {
    serde_json::json!({ "*": stamp.to_string() }).to_string()
}

/// Rewrites a stored customer's row, branches and tags with `new`; no outbox entry.
pub(crate) async fn rewrite(
    conn: &mut SqliteConnection,
    new: &NewCustomer<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    update_main(conn, new, now).await?;
    for table in ["customer_branches", "customer_tags"] {
        let sql = format!(
            "DELETE FROM {table} WHERE customer = (SELECT rid FROM customers WHERE id = ?)"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(new.id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    insert_children(conn, std::slice::from_ref(new), now).await
}

/// The `field_stamps` column as a map; `*` covers every field not named.
pub(crate) fn stamp_map(stamps: &str) -> BTreeMap<String, String> {
    serde_json::from_str(stamps).unwrap_or_default()
}

pub(crate) fn stamps_text(stamps: &BTreeMap<String, String>) -> String {
    // A map of strings always serialises.
    serde_json::to_string(stamps).unwrap_or_else(|_| "{}".to_owned())
}

/// A field's stamp: its own, or the one covering every field.
pub(crate) fn stamp_of<'a>(stamps: &'a BTreeMap<String, String>, field: &str) -> Option<&'a str> {
    stamps
        .get(field)
        .or_else(|| stamps.get("*"))
        .map(String::as_str)
}

fn changed_fields(
    before: &Customer,
    after: &CustomerFields,
    assignment: &Assignment,
) -> Vec<&'static str> {
    let b = &before.fields;
    let mut changed = Vec::new();
    let mut check = |name: &'static str, differs: bool| {
        if differs {
            changed.push(name);
        }
    };
    check("firstName", b.first_name != after.first_name);
    check("lastName", b.last_name != after.last_name);
    check("emails", b.emails != after.emails);
    check("phones", b.phones != after.phones);
    check("birthday", b.birthday != after.birthday);
    check("gender", b.gender != after.gender);
    check("address", b.address != after.address);
    check("company", b.company != after.company);
    check("notes", b.notes != after.notes);
    check("externalId", b.external_id != after.external_id);
    check("tags", b.tags != after.tags);
    check("assignment", &before.assignment != assignment);
    changed
}

pub(crate) async fn stamps_of(conn: &mut SqliteConnection, id: CustomerId) -> Result<String> {
    Ok(
        sqlx::query_scalar("SELECT field_stamps FROM customers WHERE id = ?")
            .bind(id.to_string())
            .fetch_one(conn)
            .await?,
    )
}

/// Refuses an assignment that names a branch that does not exist.
pub(crate) async fn check_branches(
    conn: &mut SqliteConnection,
    assignment: &Assignment,
) -> Result<()> {
    if let Assignment::Branches(ids) = assignment {
        for id in ids {
            let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM branches WHERE id = ?")
                .bind(id.to_string())
                .fetch_optional(&mut *conn)
                .await?;
            if found.is_none() {
                return Err(Error::not_found("branch", id));
            }
        }
    }
    Ok(())
}

/// Reads one customer with every field.
pub(crate) async fn load(conn: &mut SqliteConnection, id: CustomerId) -> Result<Customer> {
    Ok(load_with_stamps(conn, id).await?.0)
}

/// One customer with every field, and its `field_stamps`, in one query.
pub(crate) async fn load_with_stamps(
    conn: &mut SqliteConnection,
    id: CustomerId,
) -> Result<(Customer, String)> {
    let row = sqlx::query(
        "SELECT c.*, \
         (SELECT group_concat(name, char(31)) FROM (SELECT t.name FROM customer_tags ct \
           JOIN tags t ON t.id = ct.tag_id WHERE ct.customer = c.rid ORDER BY t.name_key)) \
           AS tag_names, \
         (SELECT group_concat(branch_id, char(31)) FROM (SELECT cb.branch_id \
           FROM customer_branches cb JOIN branches b ON b.id = cb.branch_id \
           WHERE cb.customer = c.rid ORDER BY b.name_key)) AS branch_ids \
         FROM customers c WHERE c.id = ?",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::not_found("customer", id))?;

    let emails: Vec<Email> = contacts_of(&row, "emails")?;
    let phones: Vec<Phone> = contacts_of(&row, "phones")?;
    let list = |column: &str| -> Result<Vec<String>> {
        let joined: Option<String> = row.try_get(column)?;
        Ok(joined
            .map(|j| j.split('\u{1f}').map(str::to_owned).collect())
            .unwrap_or_default())
    };
    let tags = list("tag_names")?;
    let branch_ids = list("branch_ids")?;

    let assignment = if row.try_get::<bool, _>("all_branches")? {
        Assignment::AllBranches
    } else {
        Assignment::Branches(branch_ids.iter().filter_map(|s| s.parse().ok()).collect())
    };
    let origin = match row.try_get::<Option<String>, _>("origin_branch_id")? {
        None => Origin::Global,
        Some(branch) => Origin::Local(
            branch
                .parse()
                .map_err(|_| Error::not_found("branch", branch))?,
        ),
    };
    let fields = CustomerFields {
        first_name: row.try_get("first_name")?,
        last_name: row.try_get("last_name")?,
        emails,
        phones,
        birthday: row
            .try_get::<Option<String>, _>("birthday")?
            .as_deref()
            .and_then(Birthday::parse_iso),
        gender: row
            .try_get::<Option<String>, _>("gender")?
            .as_deref()
            .and_then(Gender::parse),
        address: Address {
            street: row.try_get("street")?,
            city: row.try_get("city")?,
            postcode: row.try_get("postcode")?,
            region: row.try_get("region")?,
            country: row.try_get("country")?,
        },
        company: row.try_get("company")?,
        notes: row.try_get("notes")?,
        external_id: row
            .try_get::<Option<String>, _>("external_id")?
            .unwrap_or_default(),
        tags,
    };
    let customer = Customer {
        id,
        origin,
        assignment,
        fields,
        bookings: u32::try_from(row.try_get::<i64, _>("bookings")?).unwrap_or(0),
        created_at: time::from_db(&row.try_get::<String, _>("created_at")?)?,
        updated_at: time::from_db(&row.try_get::<String, _>("updated_at")?)?,
    };
    Ok((customer, row.try_get("field_stamps")?))
}

/// The `emails` or `phones` JSON column of a customer row.
fn contacts_of<T: serde::de::DeserializeOwned>(
    row: &sqlx::sqlite::SqliteRow,
    column: &str,
) -> Result<Vec<T>> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| Error::InvalidInput {
        field: "stored contacts",
        reason: format!("column {column}: {e}"),
    })
}
