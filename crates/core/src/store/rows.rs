//! Writing customer rows: the record, its emails, phones, branches and tags, in multi-row
//! INSERTs shared by the form (one customer) and the importer (thousands).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::{tags, time};
use crate::domain::text::fold;
use crate::domain::{
    Assignment, BranchId, CustomerFields, CustomerId, Email, Gender, Origin, Phone, TagId,
};
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

/// Text the search box matches: folded names, emails, and phones without the `+`.
pub(crate) fn search_text(fields: &CustomerFields) -> String {
    let mut text = fold(&format!("{} {}", fields.first_name, fields.last_name));
    for email in &fields.emails {
        text.push(' ');
        text.push_str(&fold(&email.address));
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

pub(crate) async fn insert_children(
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

pub(crate) async fn update_main(
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
