//! Active Customers: filtered, sorted pages read straight from the database, so the UI
//! never holds the whole list.

use serde::{Deserialize, Serialize};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::Store;
use crate::domain::search::{escape_like, search_words};
use crate::domain::text::trim;
use crate::domain::{BranchId, CustomerId, TagId};
use crate::{Error, Result};

/// Global or local customers only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum OriginFilter {
    Global,
    Local,
}

/// The order of the list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum SortKey {
    #[default]
    Name,
    /// Most bookings first ("customers with the most bookings").
    Bookings,
    /// Newest first.
    Created,
}

/// The filters of Active Customers; every one that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CustomerFilter {
    /// Matches names, emails and phones, ignoring case and accents.
    pub search: String,
    pub branch: Option<BranchId>,
    pub tag: Option<TagId>,
    pub origin: Option<OriginFilter>,
    pub min_bookings: Option<u32>,
    pub sort: SortKey,
    pub descending: bool,
}

/// One line of the Active Customers table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CustomerRow {
    pub id: CustomerId,
    pub first_name: String,
    pub last_name: String,
    pub primary_email: Option<String>,
    pub primary_phone: Option<String>,
    pub all_branches: bool,
    pub branches: Vec<String>,
    pub tags: Vec<String>,
    pub bookings: u32,
    pub global: bool,
}

/// A page of the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CustomerPage {
    pub offset: u32,
    pub rows: Vec<CustomerRow>,
}

/// The most rows one page may ask for.
pub const MAX_PAGE: u32 = 500;

impl Store {
    /// How many customers match `filter`. Counted apart from the pages, so scrolling does
    /// not count again.
    pub async fn count_customers(&self, filter: &CustomerFilter) -> Result<u32> {
        let mut count = QueryBuilder::new("SELECT count(*) FROM customers c");
        push_where(&mut count, filter);
        let total: i64 = count.build_query_scalar().fetch_one(self.pool()).await?;
        Ok(u32::try_from(total).unwrap_or(u32::MAX))
    }

    /// The customers matching `filter`, `limit` rows from `offset`.
    #[tracing::instrument(skip_all, fields(op.offset = offset, op.limit = limit))]
    pub async fn list_customers(
        &self,
        filter: &CustomerFilter,
        offset: u32,
        limit: u32,
    ) -> Result<CustomerPage> {
        if limit > MAX_PAGE {
            return Err(Error::InvalidInput {
                field: "limit",
                reason: format!("over {MAX_PAGE}"),
            });
        }
        let mut page = QueryBuilder::new(
            "SELECT c.id, c.first_name, c.last_name, c.primary_email, c.primary_phone, \
             c.all_branches, c.bookings, c.origin_branch_id IS NULL AS global, \
             (SELECT group_concat(name, char(31)) FROM (SELECT b.name FROM customer_branches cb \
               JOIN branches b ON b.id = cb.branch_id WHERE cb.customer = c.rid \
               ORDER BY b.name_key)) AS branch_names, \
             (SELECT group_concat(name, char(31)) FROM (SELECT t.name FROM customer_tags ct \
               JOIN tags t ON t.id = ct.tag_id WHERE ct.customer = c.rid \
               ORDER BY t.name_key)) AS tag_names \
             FROM customers c",
        );
        push_where(&mut page, filter);
        push_order(&mut page, filter);
        page.push(" LIMIT ").push_bind(i64::from(limit));
        page.push(" OFFSET ").push_bind(i64::from(offset));
        let rows = page.build().fetch_all(self.pool()).await?;

        Ok(CustomerPage {
            offset,
            rows: rows.iter().map(row_from_db).collect::<Result<_>>()?,
        })
    }
}

fn push_where(qb: &mut QueryBuilder<Sqlite>, filter: &CustomerFilter) {
    qb.push(" WHERE NOT EXISTS (SELECT 1 FROM deletion_requests d WHERE d.customer_id = c.id)");

    let search = trim(&filter.search);
    if !search.is_empty() {
        for word in search_words(search) {
            qb.push(" AND c.search_text LIKE ")
                .push_bind(format!("%{}%", escape_like(&word)))
                .push(" ESCAPE '\\'");
        }
    }
    if let Some(branch) = filter.branch {
        qb.push(" AND c.rid IN (SELECT customer FROM customer_branches WHERE branch_id = ")
            .push_bind(branch.to_string())
            .push(" UNION ALL SELECT rid FROM customers WHERE all_branches = 1")
            .push(" UNION ALL SELECT rid FROM customers WHERE origin_branch_id = ")
            .push_bind(branch.to_string())
            .push(")");
    }
    if let Some(tag) = filter.tag {
        qb.push(
            " AND EXISTS (SELECT 1 FROM customer_tags ct WHERE ct.customer = c.rid AND \
                 ct.tag_id = ",
        )
        .push_bind(tag.to_string())
        .push(")");
    }
    match filter.origin {
        Some(OriginFilter::Global) => {
            qb.push(" AND c.origin_branch_id IS NULL");
        }
        Some(OriginFilter::Local) => {
            qb.push(" AND c.origin_branch_id IS NOT NULL");
        }
        None => {}
    }
    if let Some(min) = filter.min_bookings {
        qb.push(" AND c.bookings >= ").push_bind(i64::from(min));
    }
}

fn push_order(qb: &mut QueryBuilder<Sqlite>, filter: &CustomerFilter) {
    let (asc, desc) = if filter.descending {
        ("DESC", "ASC")
    } else {
        ("ASC", "DESC")
    };
    // A filter keeps a part of the list: finding those rows and sorting them beats walking
    // the whole sort index row by row. The unary `+` keeps SQLite off the index.
    let by = if is_filtered(filter) { "+" } else { "" };
    let order = match filter.sort {
        SortKey::Name => format!(" ORDER BY {by}c.sort_name {asc}, c.id {asc}"),
        SortKey::Bookings => {
            format!(" ORDER BY {by}c.bookings {desc}, c.sort_name ASC, c.id ASC")
        }
        SortKey::Created => format!(" ORDER BY {by}c.id {desc}"),
    };
    qb.push(order);
}

fn is_filtered(filter: &CustomerFilter) -> bool {
    !trim(&filter.search).is_empty()
        || filter.branch.is_some()
        || filter.tag.is_some()
        || filter.min_bookings.is_some()
}

fn row_from_db(row: &sqlx::sqlite::SqliteRow) -> Result<CustomerRow> {
    let id: String = row.try_get("id")?;
    let split = |names: Option<String>| -> Vec<String> {
        names
            .map(|s| s.split('\u{1f}').map(str::to_owned).collect())
            .unwrap_or_default()
    };
    Ok(CustomerRow {
        id: id.parse().map_err(|_| Error::not_found("customer", &id))?,
        first_name: row.try_get("first_name")?,
        last_name: row.try_get("last_name")?,
        primary_email: row.try_get("primary_email")?,
        primary_phone: row.try_get("primary_phone")?,
        all_branches: row.try_get("all_branches")?,
        branches: split(row.try_get("branch_names")?),
        tags: split(row.try_get("tag_names")?),
        bookings: u32::try_from(row.try_get::<i64, _>("bookings")?).unwrap_or(0),
        global: row.try_get("global")?,
    })
}

impl Store {
    /// The customers matching `filter`, in the list's order, as a CSV file that Excel opens
    /// and the importer reads back (branches by name; "all branches" left empty).
    #[tracing::instrument(skip_all)]
    pub async fn export_customers(&self, filter: &CustomerFilter) -> Result<Vec<u8>> {
        let total = self.count_customers(filter).await?;
        let names: std::collections::HashMap<_, _> = self
            .branches()
            .await?
            .into_iter()
            .map(|b| (b.id, b.name))
            .collect();
        let mut customers = Vec::with_capacity(total as usize);
        let mut offset = 0;
        while offset < total {
            let page = self.list_customers(filter, offset, MAX_PAGE).await?;
            if page.rows.is_empty() {
                break;
            }
            for row in &page.rows {
                let customer = self.customer(row.id).await?;
                let branches: Vec<String> = match &customer.assignment {
                    crate::domain::Assignment::AllBranches => Vec::new(),
                    crate::domain::Assignment::Branches(ids) => {
                        ids.iter().filter_map(|id| names.get(id).cloned()).collect()
                    }
                };
                customers.push((customer.fields, branches));
            }
            offset += u32::try_from(page.rows.len()).unwrap_or(MAX_PAGE);
        }
        let rows = customers
            .iter()
            .map(|(fields, branches)| crate::import::ExportRow { fields, branches });
        tracing::info!(op.count = customers.len(), "customers exported");
        Ok(crate::import::export_csv(rows))
    }
}
