//! Writing an analysed customer file: all or nothing, in batches, with progress and
//! cancellation. Rows that match a stored customer (same email or phone) never overwrite
//! it silently: empty stored fields are filled, differing values come back as conflicts.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;

use super::customers::{self, all_fields_stamped};
use super::outbox;
use super::rows::{self, NewCustomer, BATCH_ROWS};
use super::Store;
use crate::domain::text::fold;
use crate::domain::{Assignment, BranchId, Customer, CustomerFields, CustomerId, Origin};
use crate::{Error, Result};

/// One customer of the file, ready to store.
#[derive(Debug, Clone)]
pub struct ImportItem<'a> {
    /// The first spreadsheet row it came from, for conflicts.
    pub row: u32,
    pub fields: &'a CustomerFields,
    /// Branch names as the file wrote them.
    pub branches: &'a [String],
}

/// How to place the file's customers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ImportPlacement {
    /// For rows that name no branch.
    pub default_assignment: Assignment,
    /// Branch names of the file (as written) mapped to stored branches; every name the
    /// file uses must be here or match a branch by name.
    pub branch_map: Vec<(String, BranchId)>,
}

/// A stored value the file would have changed; it is kept, and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ImportConflict {
    pub row: u32,
    pub customer: CustomerId,
    pub field: String,
    pub stored: String,
    pub incoming: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ImportSummary {
    pub created: u32,
    /// Stored customers the file added to (new emails, phones, tags, branches, empty fields).
    pub updated: u32,
    /// Stored customers the file matched without changing anything.
    pub unchanged: u32,
    pub conflicts: Vec<ImportConflict>,
}

/// What an import would do to stored customers, worked out before anything is written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct StoredMatches {
    /// Customers of the file that match a stored customer by email or phone.
    pub matched: u32,
    /// Stored values the file differs from; they will be kept, and shown.
    pub conflicts: Vec<ImportConflict>,
}

impl Store {
    /// Which customers of the file match stored ones, and where they differ, without
    /// writing: the review step shows it before the person imports.
    pub async fn stored_matches(&self, items: &[ImportItem<'_>]) -> Result<StoredMatches> {
        let mut conn = self.pool().acquire().await?;
        let mut existing = ContactIndex::load(&mut conn).await?;
        let mut summary = ImportSummary::default();
        let mut matched = 0;
        for item in items {
            match existing.find(item.fields) {
                Some(id) => {
                    let row = existing.without_taken_external_id(id, item, &mut summary);
                    let stored = customers::load(&mut conn, id).await?;
                    summary.conflicts.extend(merge_fields(&stored, &row).1);
                    matched += 1;
                }
                None => {
                    let id = CustomerId::new();
                    let row = existing.without_taken_external_id(id, item, &mut summary);
                    existing.add(id, &row.fields);
                }
            }
        }
        Ok(StoredMatches {
            matched,
            conflicts: summary.conflicts,
        })
    }

    /// The branch names of `items` that match no stored branch and are not in `placement`.
    pub async fn unknown_branches(
        &self,
        items: &[ImportItem<'_>],
        placement: &ImportPlacement,
    ) -> Result<Vec<String>> {
        let mut known = BranchNames::new(self.branch_keys(placement).await?);
        let mut unknown: Vec<String> = Vec::new();
        let mut unknown_keys = std::collections::HashSet::new();
        for name in items.iter().flat_map(|i| i.branches) {
            if known.get(name).is_none() && unknown_keys.insert(fold(name)) {
                unknown.push(name.clone());
            }
        }
        Ok(unknown)
    }

    /// Writes `items` in one transaction. `progress(done, total)` is called after each
    /// batch; when `cancel` is set the transaction is rolled back and nothing is written.
    #[tracing::instrument(skip_all, fields(op.count = items.len()))]
    pub async fn import_customers(
        &self,
        items: &[ImportItem<'_>],
        placement: &ImportPlacement,
        now: DateTime<Utc>,
        cancel: &AtomicBool,
        progress: &mut (dyn FnMut(u32, u32) + Send),
    ) -> Result<ImportSummary> {
        let mut branches = BranchNames::new(self.branch_keys(placement).await?);
        let unknown = self.unknown_branches(items, placement).await?;
        if !unknown.is_empty() {
            return Err(Error::UnknownBranches(unknown));
        }
        let total = u32::try_from(items.len()).unwrap_or(u32::MAX);
        // A branch imports its own local customers.
        let local = self.local_branch().await?;
        let origin = local.map_or(Origin::Global, Origin::Local);
        let own_only = local.map(|b| Assignment::Branches(vec![b]));
        let mut conn = self.bulk_connection().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        customers::check_branches(&mut tx, &placement.default_assignment).await?;
        let mapped = placement.branch_map.iter().map(|(_, id)| *id).collect();
        customers::check_branches(&mut tx, &Assignment::Branches(mapped)).await?;
        let mut existing = ContactIndex::load(&mut tx).await?;
        let mut summary = ImportSummary::default();
        let mut done = 0u32;

        for chunk in items.chunks(BATCH_ROWS) {
            if cancel.load(Ordering::Relaxed) {
                tracing::info!(op.done = done, "import cancelled; rolling back");
                return Err(Error::Cancelled);
            }
            let stamp = self.stamp(now);
            let mut fresh: Vec<(CustomerId, Cow<'_, CustomerFields>, Assignment)> = Vec::new();
            for item in chunk {
                let assignment = match &own_only {
                    Some(own) => own.clone(),
                    None => assignment_of(item, placement, &mut branches),
                };
                match existing.find(item.fields) {
                    Some(id) => {
                        let item = existing.without_taken_external_id(id, item, &mut summary);
                        self.merge(&mut tx, id, &item, &assignment, now, &mut summary)
                            .await?
                    }
                    None => {
                        let id = CustomerId::new();
                        let item = existing.without_taken_external_id(id, item, &mut summary);
                        existing.add(id, &item.fields);
                        fresh.push((id, item.fields, assignment));
                    }
                }
            }
            let stamps = all_fields_stamped(stamp);
            let rows: Vec<NewCustomer<'_>> = fresh
                .iter()
                .map(|(id, fields, assignment)| NewCustomer {
                    id: *id,
                    origin,
                    assignment,
                    fields,
                    stamps: stamps.clone(),
                })
                .collect();
            rows::insert_batch(&mut tx, &rows, now).await?;
            outbox::push_customers(&mut tx, &rows, stamp, now).await?;
            summary.created += u32::try_from(rows.len()).unwrap_or(0);
            done += u32::try_from(chunk.len()).unwrap_or(0);
            progress(done, total);
        }

        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        tx.commit().await?;
        tracing::info!(
            op.created = summary.created,
            op.updated = summary.updated,
            op.conflicts = summary.conflicts.len(),
            "import written"
        );
        self.checkpoint_later();
        Ok(summary)
    }

    async fn branch_keys(&self, placement: &ImportPlacement) -> Result<HashMap<String, BranchId>> {
        let mut keys: HashMap<String, BranchId> = self
            .branches()
            .await?
            .into_iter()
            .map(|b| (fold(&b.name), b.id))
            .collect();
        for (name, id) in &placement.branch_map {
            keys.insert(fold(name), *id);
        }
        Ok(keys)
    }

    /// Adds what the row brings to a stored customer, without overwriting anything.
    async fn merge(
        &self,
        conn: &mut SqliteConnection,
        id: CustomerId,
        item: &Row<'_>,
        assignment: &Assignment,
        now: DateTime<Utc>,
        summary: &mut ImportSummary,
    ) -> Result<()> {
        let stored = customers::load(conn, id).await?;
        if stored.origin == Origin::Global && self.local_branch().await?.is_some() {
            // A branch does not change global customers; the row adds nothing.
            summary.unchanged += 1;
            return Ok(());
        }
        let (merged, conflicts) = merge_fields(&stored, item);
        let assignment = merge_assignment(&stored.assignment, assignment);
        summary.conflicts.extend(conflicts);
        if merged == stored.fields && assignment == stored.assignment {
            summary.unchanged += 1;
            return Ok(());
        }
        let stamp = self.stamp(now);
        customers::replace(conn, &stored, &merged, &assignment, stamp, now).await?;
        summary.updated += 1;
        Ok(())
    }
}

/// Branch names as a file writes them, matched to stored branches once per spelling.
struct BranchNames<'a> {
    keys: HashMap<String, BranchId>,
    matched: HashMap<&'a str, Option<BranchId>>,
}

impl<'a> BranchNames<'a> {
    fn new(keys: HashMap<String, BranchId>) -> Self {
        Self {
            keys,
            matched: HashMap::new(),
        }
    }

    fn get(&mut self, name: &'a str) -> Option<BranchId> {
        let keys = &self.keys;
        *self
            .matched
            .entry(name)
            .or_insert_with(|| keys.get(&fold(name)).copied())
    }
}

fn assignment_of<'a>(
    item: &ImportItem<'a>,
    placement: &ImportPlacement,
    branches: &mut BranchNames<'a>,
) -> Assignment {
    if item.branches.is_empty() {
        return placement.default_assignment.clone();
    }
    let mut ids: Vec<BranchId> = item
        .branches
        .iter()
        .filter_map(|name| branches.get(name))
        .collect();
    ids.sort();
    ids.dedup();
    Assignment::Branches(ids)
}

fn merge_assignment(stored: &Assignment, incoming: &Assignment) -> Assignment {
    match (stored, incoming) {
        (Assignment::AllBranches, _) | (_, Assignment::AllBranches) => Assignment::AllBranches,
        (Assignment::Branches(a), Assignment::Branches(b)) => {
            let mut ids: Vec<BranchId> = a.iter().chain(b).copied().collect();
            ids.sort();
            ids.dedup();
            Assignment::Branches(ids)
        }
    }
}

/// Fills empty stored fields and unions lists; a differing non-empty value is a conflict.
fn merge_fields(stored: &Customer, item: &Row<'_>) -> (CustomerFields, Vec<ImportConflict>) {
    let mut merged = stored.fields.clone();
    let incoming = &*item.fields;
    let mut conflicts = Vec::new();
    let mut text = |field: &str, target: &mut String, new: &str| {
        if new.is_empty() || target == new {
            return;
        }
        if target.is_empty() {
            *target = new.to_owned();
        } else {
            conflicts.push(ImportConflict {
                row: item.row,
                customer: stored.id,
                field: field.to_owned(),
                stored: target.clone(),
                incoming: new.to_owned(),
            });
        }
    };
    text("firstName", &mut merged.first_name, &incoming.first_name);
    text("lastName", &mut merged.last_name, &incoming.last_name);
    text("company", &mut merged.company, &incoming.company);
    text("notes", &mut merged.notes, &incoming.notes);
    text("externalId", &mut merged.external_id, &incoming.external_id);
    text(
        "street",
        &mut merged.address.street,
        &incoming.address.street,
    );
    text("city", &mut merged.address.city, &incoming.address.city);
    text(
        "postcode",
        &mut merged.address.postcode,
        &incoming.address.postcode,
    );
    text(
        "region",
        &mut merged.address.region,
        &incoming.address.region,
    );
    text(
        "country",
        &mut merged.address.country,
        &incoming.address.country,
    );
    let stored_birthday = merged.birthday.map(|b| b.to_iso()).unwrap_or_default();
    let mut birthday = stored_birthday.clone();
    text(
        "birthday",
        &mut birthday,
        &incoming.birthday.map(|b| b.to_iso()).unwrap_or_default(),
    );
    if birthday != stored_birthday {
        merged.birthday = incoming.birthday;
    }
    if merged.gender.is_none() {
        merged.gender = incoming.gender;
    }
    for email in &incoming.emails {
        if !merged.emails.iter().any(|e| e.address == email.address) {
            merged.emails.push(crate::domain::Email {
                primary: false,
                ..email.clone()
            });
        }
    }
    for phone in &incoming.phones {
        if !merged.phones.iter().any(|p| p.number == phone.number) {
            merged.phones.push(crate::domain::Phone {
                primary: false,
                ..phone.clone()
            });
        }
    }
    for tag in &incoming.tags {
        if !merged.tags.iter().any(|t| fold(t) == fold(tag)) {
            merged.tags.push(tag.clone());
        }
    }
    (merged, conflicts)
}

/// One row on its way into the store, its fields possibly trimmed of a value that cannot be
/// written.
struct Row<'a> {
    row: u32,
    fields: Cow<'a, CustomerFields>,
}

/// Emails, phones and external ids of stored (and just imported) customers, to find matches
/// and keep external ids unique.
struct ContactIndex {
    emails: HashMap<String, CustomerId>,
    phones: HashMap<String, CustomerId>,
    external_ids: HashMap<String, CustomerId>,
}

impl ContactIndex {
    async fn load(conn: &mut SqliteConnection) -> Result<Self> {
        let parse = |rows: Vec<(String, String)>| -> HashMap<String, CustomerId> {
            rows.into_iter()
                .filter_map(|(k, id)| Some((k, id.parse().ok()?)))
                .collect()
        };
        // A customer whose deletion is under way is not matched: the row's data would go
        // down with it.
        let contacts = |column: &str, key: &str| {
            format!(
                "SELECT e.value ->> '$.{key}', c.id FROM customers c, json_each(c.{column}) e \
                 WHERE c.id NOT IN (SELECT customer_id FROM deletion_requests)"
            )
        };
        let emails = sqlx::query_as(sqlx::AssertSqlSafe(contacts("emails", "address")))
            .fetch_all(&mut *conn)
            .await?;
        let phones = sqlx::query_as(sqlx::AssertSqlSafe(contacts("phones", "number")))
            .fetch_all(&mut *conn)
            .await?;
        let external_ids =
            sqlx::query_as("SELECT external_id, id FROM customers WHERE external_id IS NOT NULL")
                .fetch_all(&mut *conn)
                .await?;
        Ok(Self {
            emails: parse(emails),
            phones: parse(phones),
            external_ids: parse(external_ids),
        })
    }

    /// The row as it can be written for customer `id`: an external id that another
    /// customer already has is left out and reported as a conflict, instead of failing the
    /// whole import.
    fn without_taken_external_id<'a>(
        &self,
        id: CustomerId,
        item: &ImportItem<'a>,
        summary: &mut ImportSummary,
    ) -> Row<'a> {
        let external_id = &item.fields.external_id;
        match self.external_ids.get(external_id) {
            Some(owner) if !external_id.is_empty() && *owner != id => {
                summary.conflicts.push(ImportConflict {
                    row: item.row,
                    customer: *owner,
                    field: "externalId".into(),
                    stored: external_id.clone(),
                    incoming: external_id.clone(),
                });
                let mut fields = item.fields.clone();
                fields.external_id.clear();
                Row {
                    row: item.row,
                    fields: Cow::Owned(fields),
                }
            }
            _ => Row {
                row: item.row,
                fields: Cow::Borrowed(item.fields),
            },
        }
    }

    fn find(&self, fields: &CustomerFields) -> Option<CustomerId> {
        let by_email = fields
            .emails
            .iter()
            .find_map(|e| self.emails.get(&e.address));
        let by_phone = || {
            fields
                .phones
                .iter()
                .find_map(|p| self.phones.get(&p.number))
        };
        by_email.or_else(by_phone).copied()
    }

    fn add(&mut self, id: CustomerId, fields: &CustomerFields) {
        if !fields.external_id.is_empty() {
            self.external_ids
                .entry(fields.external_id.clone())
                .or_insert(id);
        }
        for e in &fields.emails {
            self.emails.entry(e.address.clone()).or_insert(id);
        }
        for p in &fields.phones {
            self.phones.entry(p.number.clone()).or_insert(id);
        }
    }
}
