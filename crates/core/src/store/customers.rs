//! Customers: the record, its emails, phones, tags and branch assignment.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::outbox::{self, Op};
use super::{tags, time, Store};
use crate::domain::text::fold;
use crate::domain::validate::normalize_customer;
use crate::domain::{
    Address, Assignment, Birthday, BranchId, Customer, CustomerFields, CustomerId, Email, Gender,
    Origin, Phone, TagId,
};
use crate::hlc::Stamp;
use crate::{Error, Result};

/// Rows per multi-row INSERT; well under SQLite's limit of bound values per statement.
pub(crate) const BATCH_ROWS: usize = 400;

/// Everything needed to write one customer row and its children.
pub(crate) struct NewCustomer<'a> {
    pub id: CustomerId,
    pub origin: Origin,
    pub assignment: &'a Assignment,
    pub fields: &'a CustomerFields,
    pub stamps: String,
}

/// The change a customer's outbox entry carries.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CustomerChange<'a> {
    origin: Origin,
    assignment: &'a Assignment,
    #[serde(flatten)]
    fields: &'a CustomerFields,
    changed: Vec<&'static str>,
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
        let fields = normalize_customer(draft, region).map_err(Error::InvalidCustomer)?;
        let mut tx = self.pool().begin().await?;
        check_branches(&mut tx, assignment).await?;
        let stamp = self.stamp(now);
        let id = CustomerId::new();
        let new = NewCustomer {
            id,
            origin: Origin::Global,
            assignment,
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
        let fields = normalize_customer(draft, region).map_err(Error::InvalidCustomer)?;
        let before = self.customer(id).await?;
        if changed_fields(&before, &fields, assignment).is_empty() {
            return Ok(before);
        }

        let mut tx = self.pool().begin().await?;
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
    let stamps = restamp(&stamps_of(conn, id).await?, &changed, stamp);
    let new = NewCustomer {
        id,
        origin: before.origin,
        assignment,
        fields,
        stamps,
    };
    update_main(conn, &new, now).await?;
    for table in [
        "customer_emails",
        "customer_phones",
        "customer_branches",
        "customer_tags",
    ] {
        let sql = format!("DELETE FROM {table} WHERE customer_id = ?");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    insert_children(conn, std::slice::from_ref(&new), now).await?;
    let change = CustomerChange {
        origin: before.origin,
        assignment,
        fields,
        changed,
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

/// The field names used in clock stamps and change payloads.
pub(crate) const FIELDS: [&str; 12] = [
    "firstName",
    "lastName",
    "emails",
    "phones",
    "birthday",
    "gender",
    "address",
    "company",
    "notes",
    "externalId",
    "tags",
    "assignment",
];

/// The outbox payload of a newly created customer.
pub(crate) fn created_payload(c: &NewCustomer<'_>) -> Result<String> {
    let change = CustomerChange {
        origin: c.origin,
        assignment: c.assignment,
        fields: c.fields,
        changed: FIELDS.to_vec(),
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

fn restamp(stamps: &str, changed: &[&'static str], stamp: Stamp) -> String {
    let mut map: HashMap<String, String> = serde_json::from_str(stamps).unwrap_or_default();
    for field in changed {
        map.insert((*field).to_owned(), stamp.to_string());
    }
    serde_json::to_string(&map).unwrap_or_else(|_| all_fields_stamped(stamp))
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

async fn stamps_of(conn: &mut SqliteConnection, id: CustomerId) -> Result<String> {
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

/// Text the search box matches: folded names, emails, and phones without the `+`.
pub(crate) fn search_text(fields: &CustomerFields) -> String {
    let mut text = fold(&format!("{} {}", fields.first_name, fields.last_name));
    for email in &fields.emails {
        text.push(' ');
        text.push_str(&email.address);
    }
    for phone in &fields.phones {
        text.push(' ');
        text.push_str(phone.number.trim_start_matches('+'));
    }
    text
}

/// Writes new customers with their children, in batches.
pub(crate) async fn insert_batch(
    conn: &mut SqliteConnection,
    customers: &[NewCustomer<'_>],
    now: DateTime<Utc>,
) -> Result<()> {
    let now_text = time::to_db(now);
    for chunk in customers.chunks(BATCH_ROWS) {
        insert_main(conn, chunk, &now_text).await?;
    }
    insert_children(conn, customers, now).await
}

async fn insert_children(
    conn: &mut SqliteConnection,
    customers: &[NewCustomer<'_>],
    now: DateTime<Utc>,
) -> Result<()> {
    let mut tag_ids: HashMap<String, TagId> = HashMap::new();
    for chunk in customers.chunks(BATCH_ROWS) {
        insert_emails(conn, chunk).await?;
        insert_phones(conn, chunk).await?;
        insert_branches(conn, chunk).await?;
        insert_tags(conn, chunk, &mut tag_ids, now).await?;
    }
    Ok(())
}

async fn update_main(
    conn: &mut SqliteConnection,
    c: &NewCustomer<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    let f = c.fields;
    sqlx::query(
        "UPDATE customers SET all_branches = ?, first_name = ?, last_name = ?, birthday = ?, \
         gender = ?, street = ?, city = ?, postcode = ?, region = ?, country = ?, company = ?, \
         notes = ?, external_id = ?, primary_email = ?, primary_phone = ?, sort_name = ?, \
         search_text = ?, field_stamps = ?, updated_at = ? WHERE id = ?",
    )
    .bind(matches!(c.assignment, Assignment::AllBranches))
    .bind(&f.first_name)
    .bind(&f.last_name)
    .bind(f.birthday.map(|b| b.to_iso()))
    .bind(f.gender.map(Gender::as_str))
    .bind(&f.address.street)
    .bind(&f.address.city)
    .bind(&f.address.postcode)
    .bind(&f.address.region)
    .bind(&f.address.country)
    .bind(&f.company)
    .bind(&f.notes)
    .bind((!f.external_id.is_empty()).then_some(&f.external_id))
    .bind(f.primary_email().map(|e| &e.address))
    .bind(f.primary_phone().map(|p| &p.number))
    .bind(sort_name(f))
    .bind(search_text(f))
    .bind(&c.stamps)
    .bind(time::to_db(now))
    .bind(c.id.to_string())
    .execute(conn)
    .await
    .map_err(unique_external_id)?;
    Ok(())
}

fn unique_external_id(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::ExternalIdTaken,
        _ => Error::Database(e),
    }
}

/// The key the list sorts names by.
pub(crate) fn sort_name(fields: &CustomerFields) -> String {
    fold(&format!("{} {}", fields.first_name, fields.last_name))
}

async fn insert_main(
    conn: &mut SqliteConnection,
    chunk: &[NewCustomer<'_>],
    now: &str,
) -> Result<()> {
    const HEAD: &str = "INSERT INTO customers (id, origin_branch_id, all_branches, first_name, \
         last_name, birthday, gender, street, city, postcode, region, country, company, notes, \
         external_id, primary_email, primary_phone, sort_name, search_text, field_stamps, \
         created_at, updated_at) ";
    insert_values(conn, HEAD, chunk, 128, |mut row, c| {
        let f = c.fields;
        let origin = match c.origin {
            Origin::Global => None,
            Origin::Local(branch) => Some(branch.to_string()),
        };
        row.push_bind(c.id.to_string())
            .push_bind(origin)
            .push_bind(matches!(c.assignment, Assignment::AllBranches))
            .push_bind(f.first_name.clone())
            .push_bind(f.last_name.clone())
            .push_bind(f.birthday.map(|b| b.to_iso()))
            .push_bind(f.gender.map(Gender::as_str))
            .push_bind(f.address.street.clone())
            .push_bind(f.address.city.clone())
            .push_bind(f.address.postcode.clone())
            .push_bind(f.address.region.clone())
            .push_bind(f.address.country.clone())
            .push_bind(f.company.clone())
            .push_bind(f.notes.clone())
            .push_bind((!f.external_id.is_empty()).then(|| f.external_id.clone()))
            .push_bind(f.primary_email().map(|e| e.address.clone()))
            .push_bind(f.primary_phone().map(|p| p.number.clone()))
            .push_bind(sort_name(f))
            .push_bind(search_text(f))
            .push_bind(c.stamps.clone())
            .push_bind(now.to_owned())
            .push_bind(now.to_owned());
    })
    .await
    .map_err(unique_external_id)
}

async fn insert_emails(conn: &mut SqliteConnection, chunk: &[NewCustomer<'_>]) -> Result<()> {
    let rows: Vec<(CustomerId, usize, &Email)> = chunk
        .iter()
        .flat_map(|c| {
            c.fields
                .emails
                .iter()
                .enumerate()
                .map(move |(i, e)| (c.id, i, e))
        })
        .collect();
    const HEAD: &str =
        "INSERT INTO customer_emails (customer_id, position, address, label, is_primary) ";
    insert_values(conn, HEAD, &rows, 256, |mut row, (id, i, e)| {
        row.push_bind(id.to_string())
            .push_bind(*i as i64)
            .push_bind(e.address.clone())
            .push_bind(e.label.clone())
            .push_bind(e.primary);
    })
    .await
    .map_err(Error::Database)
}

async fn insert_phones(conn: &mut SqliteConnection, chunk: &[NewCustomer<'_>]) -> Result<()> {
    let rows: Vec<(CustomerId, usize, &Phone)> = chunk
        .iter()
        .flat_map(|c| {
            c.fields
                .phones
                .iter()
                .enumerate()
                .map(move |(i, p)| (c.id, i, p))
        })
        .collect();
    const HEAD: &str =
        "INSERT INTO customer_phones (customer_id, position, number, label, is_primary) ";
    insert_values(conn, HEAD, &rows, 256, |mut row, (id, i, p)| {
        row.push_bind(id.to_string())
            .push_bind(*i as i64)
            .push_bind(p.number.clone())
            .push_bind(p.label.clone())
            .push_bind(p.primary);
    })
    .await
    .map_err(Error::Database)
}

async fn insert_branches(conn: &mut SqliteConnection, chunk: &[NewCustomer<'_>]) -> Result<()> {
    let rows: Vec<(CustomerId, BranchId)> = chunk
        .iter()
        .flat_map(|c| match c.assignment {
            Assignment::AllBranches => Vec::new(),
            Assignment::Branches(ids) => ids.iter().map(|b| (c.id, *b)).collect(),
        })
        .collect();
    const HEAD: &str = "INSERT OR IGNORE INTO customer_branches (customer_id, branch_id) ";
    insert_values(conn, HEAD, &rows, 256, |mut row, (customer, branch)| {
        row.push_bind(customer.to_string())
            .push_bind(branch.to_string());
    })
    .await
    .map_err(Error::Database)
}

async fn insert_tags(
    conn: &mut SqliteConnection,
    chunk: &[NewCustomer<'_>],
    tag_ids: &mut HashMap<String, TagId>,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut rows: Vec<(CustomerId, TagId)> = Vec::new();
    for c in chunk {
        for name in &c.fields.tags {
            let key = fold(name);
            let id = match tag_ids.get(&key) {
                Some(id) => *id,
                None => {
                    let id = tags::ensure(conn, name, now).await?;
                    tag_ids.insert(key, id);
                    id
                }
            };
            rows.push((c.id, id));
        }
    }
    const HEAD: &str = "INSERT OR IGNORE INTO customer_tags (customer_id, tag_id) ";
    insert_values(conn, HEAD, &rows, 256, |mut row, (customer, tag)| {
        row.push_bind(customer.to_string())
            .push_bind(tag.to_string());
    })
    .await
    .map_err(Error::Database)
}

/// Runs `head VALUES (…), (…)` for `rows` in statements of power-of-two sizes up to `max`
/// rows, so a handful of SQL texts repeat and stay in the prepared-statement cache.
pub(crate) async fn insert_values<T>(
    conn: &mut SqliteConnection,
    head: &'static str,
    rows: &[T],
    max: usize,
    mut bind: impl FnMut(sqlx::query_builder::Separated<'_, Sqlite, &'static str>, &T),
) -> Result<(), sqlx::Error> {
    let mut rest = rows;
    while !rest.is_empty() {
        let size = max.min(1 << rest.len().ilog2());
        let (part, tail) = rest.split_at(size);
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(head);
        qb.push_values(part, &mut bind);
        qb.build().persistent(true).execute(&mut *conn).await?;
        rest = tail;
    }
    Ok(())
}

/// Reads one customer with every field.
pub(crate) async fn load(conn: &mut SqliteConnection, id: CustomerId) -> Result<Customer> {
    let key = id.to_string();
    let row = sqlx::query("SELECT * FROM customers WHERE id = ?")
        .bind(&key)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::not_found("customer", id))?;

    let emails = sqlx::query(
        "SELECT address, label, is_primary FROM customer_emails WHERE customer_id = ? \
         ORDER BY position",
    )
    .bind(&key)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(Email {
            address: r.try_get("address")?,
            label: r.try_get("label")?,
            primary: r.try_get("is_primary")?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let phones = sqlx::query(
        "SELECT number, label, is_primary FROM customer_phones WHERE customer_id = ? \
         ORDER BY position",
    )
    .bind(&key)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(Phone {
            number: r.try_get("number")?,
            label: r.try_get("label")?,
            primary: r.try_get("is_primary")?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let tags: Vec<String> = sqlx::query_scalar(
        "SELECT t.name FROM customer_tags ct JOIN tags t ON t.id = ct.tag_id \
         WHERE ct.customer_id = ? ORDER BY t.name_key",
    )
    .bind(&key)
    .fetch_all(&mut *conn)
    .await?;
    let branch_ids: Vec<String> = sqlx::query_scalar(
        "SELECT cb.branch_id FROM customer_branches cb JOIN branches b ON b.id = cb.branch_id \
         WHERE cb.customer_id = ? ORDER BY b.name_key",
    )
    .bind(&key)
    .fetch_all(&mut *conn)
    .await?;

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
    Ok(Customer {
        id,
        origin,
        assignment,
        fields,
        bookings: u32::try_from(row.try_get::<i64, _>("bookings")?).unwrap_or(0),
        created_at: time::from_db(&row.try_get::<String, _>("created_at")?)?,
        updated_at: time::from_db(&row.try_get::<String, _>("updated_at")?)?,
    })
}
