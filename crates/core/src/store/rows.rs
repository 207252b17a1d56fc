//! Writing customer rows: the record (emails and phones included), its branches and tags,
//! through prepared statements shared by the form (one customer) and the importer
//! (thousands).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::{raw, tags, time};
use crate::domain::search::{search_text, sort_name};
use crate::domain::{Assignment, CustomerFields, CustomerId, Gender, Origin, TagId};
use crate::{Error, Result};

/// Customers an import writes between progress reports and cancellation checks.
pub(crate) const BATCH_ROWS: usize = 2000;

/// Everything needed to write one customer row and its children.
pub(crate) struct NewCustomer<'a> {
    pub id: CustomerId,
    pub origin: Origin,
    pub assignment: &'a Assignment,
    pub fields: &'a CustomerFields,
    pub stamps: String,
}

/// Writes new customers with their children.
pub(crate) async fn insert_batch(
    conn: &mut SqliteConnection,
    customers: &[NewCustomer<'_>],
    now: DateTime<Utc>,
) -> Result<()> {
    let tag_ids = ensure_tags(conn, customers, now).await?;
    let now = time::to_db(now);
    raw::with_raw(conn, |db| {
        let mut writer = Writer::new(db)?;
        for c in customers {
            let rid = writer.customer(c, &now)?;
            writer.children(rid, c, &tag_ids)?;
        }
        Ok(())
    })
    .await
    .map_err(unique_external_id)
}

/// Writes the branches and tags of customers whose row exists.
pub(crate) async fn insert_children(
    conn: &mut SqliteConnection,
    customers: &[NewCustomer<'_>],
    now: DateTime<Utc>,
) -> Result<()> {
    let tag_ids = ensure_tags(conn, customers, now).await?;
    raw::with_raw(conn, |db| {
        let mut writer = Writer::new(db)?;
        for c in customers {
            let rid = writer.rid(c.id)?;
            writer.children(rid, c, &tag_ids)?;
        }
        Ok(())
    })
    .await
}

/// The ids of every tag `customers` carry, by name as written, creating the missing ones.
async fn ensure_tags<'a>(
    conn: &mut SqliteConnection,
    customers: &'a [NewCustomer<'_>],
    now: DateTime<Utc>,
) -> Result<HashMap<&'a str, TagId>> {
    let mut ids = HashMap::new();
    for name in customers.iter().flat_map(|c| &c.fields.tags) {
        if !ids.contains_key(name.as_str()) {
            ids.insert(name.as_str(), tags::ensure(conn, name, now).await?);
        }
    }
    Ok(ids)
}

/// Prepared statements for customer rows, reused for every customer of a batch.
struct Writer<'db> {
    db: &'db rusqlite::Connection,
    customer: rusqlite::Statement<'db>,
    rid: rusqlite::Statement<'db>,
    branch: rusqlite::Statement<'db>,
    tag: rusqlite::Statement<'db>,
}

impl<'db> Writer<'db> {
    fn new(db: &'db rusqlite::Connection) -> rusqlite::Result<Self> {
        Ok(Self {
            db,
            rid: db.prepare("SELECT rid FROM customers WHERE id = ?")?,
            customer: db.prepare(
                "INSERT INTO customers (id, origin_branch_id, all_branches, first_name, \
                 last_name, birthday, gender, street, city, postcode, region, country, company, \
                 notes, external_id, emails, phones, primary_email, primary_phone, sort_name, \
                 search_text, field_stamps, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?,
            branch: db.prepare(
                "INSERT OR IGNORE INTO customer_branches (customer, branch_id) VALUES (?, ?)",
            )?,
            tag: db
                .prepare("INSERT OR IGNORE INTO customer_tags (customer, tag_id) VALUES (?, ?)")?,
        })
    }

    /// Writes the customer row; returns its local key.
    fn customer(&mut self, c: &NewCustomer<'_>, now: &str) -> rusqlite::Result<i64> {
        let f = c.fields;
        let sort_name = sort_name(f);
        let origin = match c.origin {
            Origin::Global => None,
            Origin::Local(branch) => Some(branch.to_string()),
        };
        self.customer.execute(rusqlite::params![
            c.id.to_string(),
            origin,
            matches!(c.assignment, Assignment::AllBranches),
            f.first_name,
            f.last_name,
            f.birthday.map(|b| b.to_iso()),
            f.gender.map(Gender::as_str),
            f.address.street,
            f.address.city,
            f.address.postcode,
            f.address.region,
            f.address.country,
            f.company,
            f.notes,
            (!f.external_id.is_empty()).then_some(&f.external_id),
            contacts_json(&f.emails),
            contacts_json(&f.phones),
            f.primary_email().map(|e| &e.address),
            f.primary_phone().map(|p| &p.number),
            sort_name,
            search_text(f, &sort_name),
            c.stamps,
            now,
            now,
        ])?;
        Ok(self.db.last_insert_rowid())
    }

    /// The local key of a stored customer.
    fn rid(&mut self, id: CustomerId) -> rusqlite::Result<i64> {
        self.rid.query_row([id.to_string()], |row| row.get(0))
    }

    fn children(
        &mut self,
        rid: i64,
        c: &NewCustomer<'_>,
        tag_ids: &HashMap<&str, TagId>,
    ) -> rusqlite::Result<()> {
        if let Assignment::Branches(branches) = c.assignment {
            for branch in branches {
                self.branch.execute((rid, branch.to_string()))?;
            }
        }
        for name in &c.fields.tags {
            if let Some(tag) = tag_ids.get(name.as_str()) {
                self.tag.execute((rid, tag.to_string()))?;
            }
        }
        Ok(())
    }
}

pub(crate) async fn update_main(
    conn: &mut SqliteConnection,
    c: &NewCustomer<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    let f = c.fields;
    let sort_name = sort_name(f);
    sqlx::query(
        "UPDATE customers SET all_branches = ?, first_name = ?, last_name = ?, birthday = ?, \
         gender = ?, street = ?, city = ?, postcode = ?, region = ?, country = ?, company = ?, \
         notes = ?, external_id = ?, emails = ?, phones = ?, primary_email = ?, \
         primary_phone = ?, sort_name = ?, search_text = ?, field_stamps = ?, updated_at = ? \
         WHERE id = ?",
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
    .bind(contacts_json(&f.emails))
    .bind(contacts_json(&f.phones))
    .bind(f.primary_email().map(|e| &e.address))
    .bind(f.primary_phone().map(|p| &p.number))
    .bind(&sort_name)
    .bind(search_text(f, &sort_name))
    .bind(&c.stamps)
    .bind(time::to_db(now))
    .bind(c.id.to_string())
    .execute(conn)
    .await
    .map_err(unique_external_id)?;
    Ok(())
}

/// A write refused because another customer has the external id becomes `ExternalIdTaken`.
fn unique_external_id(e: impl Into<Error>) -> Error {
    match e.into() {
        Error::Database(sqlx::Error::Database(db)) if names_external_id(db.message()) => {
            Error::ExternalIdTaken
        }
        Error::DatabaseWrite(rusqlite::Error::SqliteFailure(failure, Some(message)))
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                && names_external_id(&message) =>
        {
            Error::ExternalIdTaken
        }
        other => other,
    }
}

/// Emails or phones as the `emails` and `phones` columns hold them.
fn contacts_json<T: serde::Serialize>(contacts: &[T]) -> String {
    // A list of plain structs of strings and booleans always serialises.
    serde_json::to_string(contacts).unwrap_or_else(|_| "[]".to_owned())
}

fn names_external_id(message: &str) -> bool {
    message.contains("UNIQUE") && message.contains("customers.external_id")
}
