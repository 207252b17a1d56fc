//! The local side of sync, without any network: turning the outbox into changes to push,
//! settling what the server answered, and applying pulled changes.
//!
//! Each customer field is a last-writer-wins register ordered by hybrid-logical-clock
//! stamps, so every device that has applied the same changes holds the same values, in
//! whatever order they arrived. Same-field edits made without seeing each other (the
//! change's `base` is not the stamp this device holds) are kept as conflicts. A deletion
//! wins over everything: edits of a deleted customer are discarded, and said so.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Row, SqliteConnection};

use super::customers::{self, stamp_map, stamp_of, stamps_text, CustomerChange};
use super::rows::{self, NewCustomer};
use super::{time, Store};
use crate::domain::deletion::AppointmentStatus;
use crate::domain::{Assignment, BranchId, Customer, CustomerFields, CustomerId, Origin};
use crate::hlc::Stamp;
use crate::sync::{
    parse_change_id, Change, ChangeOp, FieldChange, LoggedChange, PushOutcome, PushResult, Session,
    SessionRole,
};
use crate::{Error, Result};

/// The customer fields a change can carry, besides the ones of [`CustomerFields`].
const ASSIGNMENT: &str = "assignment";
const ORIGIN: &str = "origin";

/// A change read from the outbox, ready to push.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingChange {
    /// The outbox entry it came from.
    pub seq: i64,
    pub change: Change,
}

/// A same-field edit that lost; the winner is in the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SyncConflict {
    pub customer: CustomerId,
    pub field: String,
    /// JSON of the value every device now holds.
    pub kept: String,
    /// JSON of the value that lost.
    pub lost: String,
    /// Who made the losing edit (a credential name, or "this device").
    pub lost_author: String,
    pub lost_at: DateTime<Utc>,
}

/// Something sync could not do, for the Sync issues panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SyncIssue {
    pub kind: SyncIssueKind,
    pub entity: String,
    pub entity_id: String,
    /// The server's reason code, or `deleted`.
    pub code: String,
    pub fields: Vec<String>,
    /// Who deleted it, or the server's message.
    pub detail: String,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum SyncIssueKind {
    /// The server refused a change; the device keeps the server's value.
    Refused,
    /// A local edit of a customer deleted elsewhere was dropped.
    DiscardedEdit,
}

/// What applying a page of pulled changes did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub changes: u32,
    pub conflicts: u32,
    pub discarded: u32,
}

impl Store {
    /// This database's node id: the first half of every change id it makes.
    pub async fn node_id(&self) -> Result<uuid::Uuid> {
        let text: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'node_id'")
            .fetch_one(self.pool())
            .await?;
        uuid::Uuid::parse_str(&text).map_err(|_| Error::InvalidInput {
            field: "meta.node_id",
            reason: "not a UUID".into(),
        })
    }

    /// The server address and secret saved at sign-in.
    pub async fn sync_account(&self) -> Result<Option<(String, String)>> {
        let url = self.meta("sync_url").await?;
        let secret = self.meta("sync_secret").await?;
        Ok(url.zip(secret))
    }

    /// Who the saved credential is.
    pub async fn sync_session(&self) -> Result<Option<Session>> {
        Ok(self
            .meta("sync_session")
            .await?
            .and_then(|text| serde_json::from_str(&text).ok()))
    }

    /// The branch this desktop works for, when it signed in with a branch credential; its
    /// new customers are then local to that branch, and its global ones read-only.
    pub async fn local_branch(&self) -> Result<Option<BranchId>> {
        let session = self.sync_session().await?;
        Ok(session
            .filter(|s| s.role == SessionRole::Branch)
            .and_then(|s| s.branch)
            .and_then(|b| b.parse().ok()))
    }

    /// Saves the account after the server accepted it.
    pub async fn save_sync_account(
        &self,
        url: &str,
        secret: &str,
        session: &Session,
    ) -> Result<()> {
        let session = serde_json::to_string(session).map_err(|e| Error::InvalidInput {
            field: "session",
            reason: e.to_string(),
        })?;
        let mut tx = self.pool().begin().await?;
        for (key, value) in [
            ("sync_url", url),
            ("sync_secret", secret),
            ("sync_session", &session),
        ] {
            sqlx::query("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)")
                .bind(key)
                .bind(value)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets the account (signing out); the data and unsent changes stay.
    pub async fn forget_sync_account(&self) -> Result<()> {
        sqlx::query("DELETE FROM meta WHERE key IN ('sync_url', 'sync_secret', 'sync_session')")
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// When the last round completed.
    pub async fn last_sync(&self) -> Result<Option<DateTime<Utc>>> {
        self.meta("last_sync_at")
            .await?
            .map(|t| time::from_db(&t))
            .transpose()
    }

    pub async fn set_last_sync(&self, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_sync_at', ?)")
            .bind(time::to_db(at))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The server sequence this device has pulled up to.
    pub async fn sync_cursor(&self) -> Result<i64> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'sync_cursor'")
                .fetch_optional(self.pool())
                .await?;
        Ok(text.and_then(|t| t.parse().ok()).unwrap_or(0))
    }

    /// Up to `limit` outbox entries as changes with their current values, oldest first.
    pub async fn outgoing_changes(&self, limit: u32) -> Result<Vec<OutgoingChange>> {
        let node = self.node_id().await?;
        let mut conn = self.pool().acquire().await?;
        let rows = sqlx::query(
            "SELECT seq, entity, entity_id, op, payload, hlc FROM outbox ORDER BY seq LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        let mut changes = Vec::with_capacity(rows.len());
        for row in rows {
            let seq: i64 = row.try_get("seq")?;
            let entity: String = row.try_get("entity")?;
            let entity_id: String = row.try_get("entity_id")?;
            let op = match row.try_get::<String, _>("op")?.as_str() {
                "delete" => ChangeOp::Delete,
                _ => ChangeOp::Upsert,
            };
            let hlc: String = row.try_get("hlc")?;
            let payload: String = row.try_get("payload")?;
            let fields = match (entity.as_str(), op) {
                ("customer", ChangeOp::Upsert) => {
                    customer_fields(&mut conn, &entity_id, &payload).await?
                }
                ("branch", ChangeOp::Upsert) => branch_fields(&mut conn, &entity_id, &hlc).await?,
                ("appointment", ChangeOp::Upsert) => appointment_fields(&payload, &hlc)?,
                // Tags travel inside customers.
                _ => BTreeMap::new(),
            };
            changes.push(OutgoingChange {
                seq,
                change: Change {
                    id: format!("{node}:{seq}"),
                    entity,
                    entity_id,
                    op,
                    hlc,
                    fields,
                },
            });
        }
        Ok(changes)
    }

    /// Removes pushed entries from the outbox; refused ones become sync issues.
    pub async fn settle_pushed(
        &self,
        pushed: &[OutgoingChange],
        results: &[PushResult],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        for (sent, result) in pushed.iter().zip(results) {
            if let PushOutcome::Refused { code, message } = &result.outcome {
                tracing::warn!(change = %sent.change.id, %code, "change refused by the server");
                let fields = sent.change.fields.keys().cloned().collect();
                add_issue(
                    &mut tx,
                    SyncIssueKind::Refused,
                    &sent.change,
                    code,
                    fields,
                    message,
                    now,
                    now,
                )
                .await?;
            }
            sqlx::query("DELETE FROM outbox WHERE seq = ?")
                .bind(sent.seq)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Applies pulled changes and moves the cursor to `last_seq`, all in one transaction.
    pub async fn apply_pulled(
        &self,
        changes: &[LoggedChange],
        last_seq: i64,
        now: DateTime<Utc>,
    ) -> Result<Applied> {
        let node = self.node_id().await?;
        // A first download commits pages of thousands of customers; each page's checkpoint
        // runs beside the next page's writes.
        let mut conn = self.bulk_connection().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let mut applied = Applied::default();
        let mut purged = false;
        // An appointment changed: a deletion it blocked may now go ahead.
        let mut booked = false;
        let mut latest: Option<Stamp> = None;
        // Customers first seen in this page are written together, which is what makes the
        // first download of a large company fast.
        let mut fresh = NewCustomers::default();
        for logged in changes {
            let change = &logged.change;
            let stamps = change.fields.values().map(|f| f.stamp.as_str());
            for stamp in stamps.chain([change.hlc.as_str()]) {
                if let Ok(stamp) = Stamp::from_str(stamp) {
                    latest = latest.max(Some(stamp));
                }
            }
            if parse_change_id(&change.id).is_some_and(|(author, _)| author == node) {
                continue;
            }
            let author = logged.author.as_str();
            applied.changes += 1;
            let customer = change.entity_id.parse::<CustomerId>().ok();
            if customer.is_some_and(|id| fresh.has(id)) {
                fresh.write(&mut tx, now).await?;
            }
            match (change.entity.as_str(), change.op, customer) {
                ("customer", ChangeOp::Upsert, Some(id)) if is_unknown(&mut tx, id).await? => {
                    fresh.add(&mut tx, id, change).await?;
                }
                ("customer", ChangeOp::Upsert, _) => {
                    applied.conflicts +=
                        apply_customer(&mut tx, change, author, Conflicts::Keep, now).await?;
                }
                ("customer", ChangeOp::Delete, _) => {
                    applied.discarded += apply_delete(&mut tx, change, author, now).await?;
                    purged = true;
                }
                ("branch", ChangeOp::Upsert, _) => apply_branch(&mut tx, change, now).await?,
                ("appointment", ChangeOp::Upsert, _) => {
                    // Its customer may be waiting in this page's batch.
                    let of = change
                        .fields
                        .get("customerId")
                        .and_then(|f| f.value.as_str());
                    if of
                        .and_then(|id| id.parse().ok())
                        .is_some_and(|id| fresh.has(id))
                    {
                        fresh.write(&mut tx, now).await?;
                    }
                    booked |= apply_appointment(&mut tx, change, now).await?;
                }
                _ => applied.changes -= 1,
            }
        }
        fresh.write(&mut tx, now).await?;
        sqlx::query("INSERT OR REPLACE INTO meta (key, value) VALUES ('sync_cursor', ?)")
            .bind(last_seq.to_string())
            .execute(&mut *tx)
            .await?;
        if let Some(latest) = latest {
            // Remembered, so after a restart this device's clock still stamps later than
            // every value it has taken in.
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ('last_hlc', ?) ON CONFLICT (key) \
                 DO UPDATE SET value = max(value, excluded.value)",
            )
            .bind(latest.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        if let Some(latest) = latest {
            self.observe(latest);
        }
        if booked {
            self.retry_deletions(now).await?;
        }
        if purged {
            self.checkpoint().await;
        } else {
            self.checkpoint_later();
        }
        Ok(applied)
    }

    /// Replaces the local copy of a customer with what the server holds (`history`, oldest
    /// first), dropping its unsent changes: after the server refused one of them, this
    /// device must not keep a value no other device has.
    pub async fn return_to_server(
        &self,
        customer: &str,
        history: &[LoggedChange],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        super::outbox::forget(&mut tx, "customer", customer).await?;
        sqlx::query("DELETE FROM customers WHERE id = ?")
            .bind(customer)
            .execute(&mut *tx)
            .await?;
        let mut fresh = NewCustomers::default();
        for logged in history {
            let change = &logged.change;
            let Ok(id) = change.entity_id.parse::<CustomerId>() else {
                continue;
            };
            if fresh.has(id) {
                fresh.write(&mut tx, now).await?;
            }
            match change.op {
                ChangeOp::Upsert if is_unknown(&mut tx, id).await? => {
                    fresh.add(&mut tx, id, change).await?;
                }
                // The server's own history: no conflict to report again.
                ChangeOp::Upsert => {
                    apply_customer(&mut tx, change, &logged.author, Conflicts::Ignore, now).await?;
                }
                ChangeOp::Delete => {
                    super::deletions::purge_rows(&mut tx, id, now, &change.hlc).await?;
                }
            }
        }
        fresh.write(&mut tx, now).await?;
        tx.commit().await?;
        tracing::info!(customer.id = customer, "returned to the server's version");
        Ok(())
    }

    /// Unresolved same-field conflicts, newest first.
    pub async fn sync_conflicts(&self) -> Result<Vec<SyncConflict>> {
        let rows = sqlx::query(
            "SELECT customer_id, field, kept_value, lost_value, lost_stamp, lost_author \
             FROM sync_conflicts WHERE resolved_at IS NULL ORDER BY id DESC",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SyncConflict {
                    customer: super::id_in(r, "customer_id")?,
                    field: r.try_get("field")?,
                    kept: r.try_get("kept_value")?,
                    lost: r.try_get("lost_value")?,
                    lost_author: r.try_get("lost_author")?,
                    lost_at: stamp_time(&r.try_get::<String, _>("lost_stamp")?),
                })
            })
            .collect()
    }

    /// Refused changes and discarded edits, newest first.
    pub async fn sync_issues(&self) -> Result<Vec<SyncIssue>> {
        let rows = sqlx::query(
            "SELECT kind, entity, entity_id, code, fields, detail, occurred_at FROM sync_issues \
             ORDER BY id DESC",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let kind = match r.try_get::<String, _>("kind")?.as_str() {
                    "discardedEdit" => SyncIssueKind::DiscardedEdit,
                    _ => SyncIssueKind::Refused,
                };
                Ok(SyncIssue {
                    kind,
                    entity: r.try_get("entity")?,
                    entity_id: r.try_get("entity_id")?,
                    code: r.try_get("code")?,
                    fields: serde_json::from_str(&r.try_get::<String, _>("fields")?)
                        .unwrap_or_default(),
                    detail: r.try_get("detail")?,
                    occurred_at: time::from_db(&r.try_get::<String, _>("occurred_at")?)?,
                })
            })
            .collect()
    }
}

/// The changed fields of a customer outbox entry, with the values the customer has now.
async fn customer_fields(
    conn: &mut SqliteConnection,
    id: &str,
    payload: &str,
) -> Result<BTreeMap<String, FieldChange>> {
    let Ok(customer_id) = id.parse::<CustomerId>() else {
        return Ok(BTreeMap::new());
    };
    let change: CustomerChange =
        serde_json::from_str(payload).map_err(|e| Error::InvalidInput {
            field: "outbox payload",
            reason: e.to_string(),
        })?;
    let (customer, stamps) = match customers::load_with_stamps(conn, customer_id).await {
        Ok(found) => found,
        // Deleted since: its deletion follows in the outbox.
        Err(Error::NotFound { .. }) => return Ok(BTreeMap::new()),
        Err(e) => return Err(e),
    };
    let stamps = stamp_map(&stamps);
    let values = values_of(&customer)?;
    let names: Vec<String> = if change.changed.iter().any(|f| f == "*") {
        values.keys().cloned().collect()
    } else {
        change.changed
    };
    let mut fields = BTreeMap::new();
    for name in names {
        let (Some(value), Some(stamp)) = (values.get(&name), stamp_of(&stamps, &name)) else {
            continue;
        };
        let field = FieldChange {
            value: value.clone(),
            stamp: stamp.to_owned(),
            base: change.base.get(&name).cloned(),
        };
        fields.insert(name, field);
    }
    Ok(fields)
}

/// Every field of a customer as a change carries it.
fn values_of(customer: &Customer) -> Result<BTreeMap<String, serde_json::Value>> {
    let json = |e: serde_json::Error| Error::InvalidInput {
        field: "customer",
        reason: e.to_string(),
    };
    let serde_json::Value::Object(fields) = serde_json::to_value(&customer.fields).map_err(json)?
    else {
        return Ok(BTreeMap::new());
    };
    let mut values: BTreeMap<String, serde_json::Value> = fields.into_iter().collect();
    values.insert(
        ASSIGNMENT.into(),
        serde_json::to_value(&customer.assignment).map_err(json)?,
    );
    values.insert(
        ORIGIN.into(),
        serde_json::to_value(customer.origin).map_err(json)?,
    );
    Ok(values)
}

async fn branch_fields(
    conn: &mut SqliteConnection,
    id: &str,
    hlc: &str,
) -> Result<BTreeMap<String, FieldChange>> {
    let row = sqlx::query("SELECT name, country, time_zone FROM branches WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(BTreeMap::new());
    };
    let mut fields = BTreeMap::new();
    for (name, column) in [
        ("name", "name"),
        ("country", "country"),
        ("timeZone", "time_zone"),
    ] {
        let value: String = row.try_get(column)?;
        let field = FieldChange {
            value: serde_json::Value::String(value),
            stamp: hlc.to_owned(),
            base: None,
        };
        fields.insert(name.to_owned(), field);
    }
    Ok(fields)
}

/// An appointment outbox entry as a change carries it: the entry holds the values.
fn appointment_fields(payload: &str, hlc: &str) -> Result<BTreeMap<String, FieldChange>> {
    let values: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(payload).map_err(|e| Error::InvalidInput {
            field: "outbox payload",
            reason: e.to_string(),
        })?;
    Ok(values
        .into_iter()
        .map(|(name, value)| {
            let name = match name.as_str() {
                "customer" => "customerId".to_owned(),
                "branch" => "branchId".to_owned(),
                _ => name,
            };
            let field = FieldChange {
                value,
                stamp: hlc.to_owned(),
                base: None,
            };
            (name, field)
        })
        .collect())
}

/// Applies a pulled appointment, booked or changed through the server's API or on another
/// desktop, so that bookings and the deletion rule here know of it. An appointment of a
/// customer or branch this database does not hold is left out. Returns whether anything
/// changed.
async fn apply_appointment(
    conn: &mut SqliteConnection,
    change: &Change,
    now: DateTime<Utc>,
) -> Result<bool> {
    let text = |name: &str| change.fields.get(name).and_then(|f| f.value.as_str());
    let time = |name: &str| {
        text(name)
            .and_then(|t| time::from_db(t).ok())
            .map(time::to_db)
    };
    let status = text("status").filter(|s| AppointmentStatus::parse(s).is_some());
    let now = time::to_db(now);
    let stored: Option<String> =
        sqlx::query_scalar("SELECT customer_id FROM appointments WHERE id = ?")
            .bind(&change.entity_id)
            .fetch_optional(&mut *conn)
            .await?;
    let customer = match stored {
        Some(customer) => {
            sqlx::query(
                "UPDATE appointments SET status = coalesce(?, status), \
                 starts_at = coalesce(?, starts_at), ends_at = coalesce(?, ends_at), \
                 updated_at = ? WHERE id = ?",
            )
            .bind(status)
            .bind(time("startsAt"))
            .bind(time("endsAt"))
            .bind(&now)
            .bind(&change.entity_id)
            .execute(&mut *conn)
            .await?;
            customer
        }
        None => {
            let (Some(customer), Some(branch), Some(starts), Some(ends), Some(status)) = (
                text("customerId"),
                text("branchId"),
                time("startsAt"),
                time("endsAt"),
                status,
            ) else {
                return Ok(false);
            };
            let inserted = sqlx::query(
                "INSERT INTO appointments (id, branch_id, customer_id, starts_at, ends_at, \
                 status, created_at, updated_at) SELECT ?, b.id, c.id, ?, ?, ?, ?, ? \
                 FROM customers c, branches b WHERE c.id = ? AND b.id = ?",
            )
            .bind(&change.entity_id)
            .bind(starts)
            .bind(ends)
            .bind(status)
            .bind(&now)
            .bind(&now)
            .bind(customer)
            .bind(branch)
            .execute(&mut *conn)
            .await?;
            if inserted.rows_affected() == 0 {
                return Ok(false);
            }
            customer.to_owned()
        }
    };
    sqlx::query(
        "UPDATE customers SET bookings = (SELECT count(*) FROM appointments \
         WHERE customer_id = ?1 AND status != 'cancelled') WHERE id = ?1",
    )
    .bind(&customer)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// Whether applying a change keeps the conflicts it finds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Conflicts {
    Keep,
    Ignore,
}

/// Applies a pulled customer upsert field by field; returns how many conflicts it found.
async fn apply_customer(
    conn: &mut SqliteConnection,
    change: &Change,
    author: &str,
    conflicts_seen: Conflicts,
    now: DateTime<Utc>,
) -> Result<u32> {
    let Ok(id) = change.entity_id.parse::<CustomerId>() else {
        return Ok(0);
    };
    let tombstone: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM tombstones WHERE customer_id = ?")
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    if tombstone.is_some() {
        return Ok(0);
    }
    let stored = match customers::load(conn, id).await {
        Ok(c) => Some(c),
        Err(Error::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    let Some(stored) = stored else {
        let mut fresh = NewCustomers::default();
        fresh.add(conn, id, change).await?;
        fresh.write(conn, now).await?;
        return Ok(0);
    };

    let mut values = values_of(&stored)?;
    let mut stamps = stamp_map(&customers::stamps_of(conn, id).await?);
    let mut conflicts = 0;
    let mut changed = false;
    for (name, incoming) in &change.fields {
        let Some(local_value) = values.get(name).cloned() else {
            continue;
        };
        let local_stamp = stamp_of(&stamps, name).unwrap_or("").to_owned();
        let concurrent = incoming.base.as_deref().is_some_and(|b| b != local_stamp);
        let differs = local_value != incoming.value;
        let incoming_wins = incoming.stamp.as_str() > local_stamp.as_str();
        if concurrent && differs && conflicts_seen == Conflicts::Keep {
            let (kept, kept_stamp, lost, lost_stamp, lost_author) = if incoming_wins {
                (
                    &incoming.value,
                    incoming.stamp.as_str(),
                    &local_value,
                    local_stamp.as_str(),
                    "",
                )
            } else {
                (
                    &local_value,
                    local_stamp.as_str(),
                    &incoming.value,
                    incoming.stamp.as_str(),
                    author,
                )
            };
            add_conflict(
                conn,
                id,
                name,
                (kept, kept_stamp),
                (lost, lost_stamp, lost_author),
                now,
            )
            .await?;
            conflicts += 1;
        }
        if incoming_wins {
            values.insert(name.clone(), incoming.value.clone());
            stamps.insert(name.clone(), incoming.stamp.clone());
            changed = true;
        }
    }
    if changed {
        let (fields, assignment) = fields_from(conn, &values).await?;
        let new = NewCustomer {
            id,
            origin: stored.origin,
            assignment: &assignment,
            fields: &fields,
            stamps: stamps_text(&stamps),
        };
        customers::rewrite(conn, &new, now).await?;
    }
    Ok(conflicts)
}

/// True when the customer is neither stored nor deleted here: a change about it creates it.
async fn is_unknown(conn: &mut SqliteConnection, id: CustomerId) -> Result<bool> {
    let known: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM customers WHERE id = ?1 UNION ALL \
         SELECT 1 FROM tombstones WHERE customer_id = ?1 LIMIT 1",
    )
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    Ok(known.is_none())
}

/// Customers first seen in a page of pulled changes, waiting to be written together.
#[derive(Default)]
struct NewCustomers {
    ids: std::collections::HashSet<CustomerId>,
    rows: Vec<(CustomerId, Origin, Assignment, CustomerFields, String)>,
}

impl NewCustomers {
    fn has(&self, id: CustomerId) -> bool {
        self.ids.contains(&id)
    }

    /// Adds the customer a change creates, with every field stamped as the change says.
    async fn add(
        &mut self,
        conn: &mut SqliteConnection,
        id: CustomerId,
        change: &Change,
    ) -> Result<()> {
        let values: BTreeMap<String, serde_json::Value> = change
            .fields
            .iter()
            .map(|(k, f)| (k.clone(), f.value.clone()))
            .collect();
        let stamps: BTreeMap<String, String> = change
            .fields
            .iter()
            .map(|(k, f)| (k.clone(), f.stamp.clone()))
            .chain([("*".to_owned(), change.hlc.clone())])
            .collect();
        let origin = values
            .get(ORIGIN)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or(Origin::Global);
        let (fields, assignment) = fields_from(conn, &values).await?;
        self.ids.insert(id);
        self.rows
            .push((id, origin, assignment, fields, stamps_text(&stamps)));
        Ok(())
    }

    async fn write(&mut self, conn: &mut SqliteConnection, now: DateTime<Utc>) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows: Vec<NewCustomer<'_>> = self
            .rows
            .iter()
            .map(|(id, origin, assignment, fields, stamps)| NewCustomer {
                id: *id,
                origin: *origin,
                assignment,
                fields,
                stamps: stamps.clone(),
            })
            .collect();
        rows::insert_batch(conn, &rows, now).await?;
        drop(rows);
        self.rows.clear();
        self.ids.clear();
        Ok(())
    }
}

/// Customer fields and assignment from change values; branches this device does not know
/// are left out of the assignment.
async fn fields_from(
    conn: &mut SqliteConnection,
    values: &BTreeMap<String, serde_json::Value>,
) -> Result<(CustomerFields, Assignment)> {
    let object: serde_json::Map<String, serde_json::Value> = values
        .iter()
        .filter(|(k, _)| *k != ASSIGNMENT && *k != ORIGIN)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut base = serde_json::to_value(CustomerFields::default()).unwrap_or_default();
    if let Some(target) = base.as_object_mut() {
        target.extend(object);
    }
    let fields: CustomerFields = serde_json::from_value(base).map_err(|e| Error::InvalidInput {
        field: "pulled customer",
        reason: e.to_string(),
    })?;
    let assignment = match values
        .get(ASSIGNMENT)
        .and_then(|v| serde_json::from_value::<Assignment>(v.clone()).ok())
    {
        Some(Assignment::Branches(ids)) => {
            let mut known = Vec::with_capacity(ids.len());
            for id in ids {
                if branch_exists(conn, id).await? {
                    known.push(id);
                }
            }
            Assignment::Branches(known)
        }
        Some(Assignment::AllBranches) | None => Assignment::AllBranches,
    };
    Ok((fields, assignment))
}

async fn branch_exists(conn: &mut SqliteConnection, id: BranchId) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM branches WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

/// Applies a deletion made elsewhere; returns 1 when a local edit had to be discarded.
async fn apply_delete(
    conn: &mut SqliteConnection,
    change: &Change,
    author: &str,
    now: DateTime<Utc>,
) -> Result<u32> {
    let Ok(id) = change.entity_id.parse::<CustomerId>() else {
        return Ok(0);
    };
    let key = id.to_string();
    // Local edits not yet sent, and edits the server already refused because of this
    // deletion: both are gone now, and the person is told which fields.
    let payloads: Vec<String> = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE entity = 'customer' AND entity_id = ? AND op = 'upsert'",
    )
    .bind(&key)
    .fetch_all(&mut *conn)
    .await?;
    let mut fields: Vec<String> = payloads
        .iter()
        .filter_map(|p| serde_json::from_str::<CustomerChange>(p).ok())
        .flat_map(|c| c.changed)
        .collect();
    let refused: Vec<String> = sqlx::query_scalar(
        "DELETE FROM sync_issues WHERE kind = 'refused' AND code = 'deleted' \
         AND entity = 'customer' AND entity_id = ? RETURNING fields",
    )
    .bind(&key)
    .fetch_all(&mut *conn)
    .await?;
    fields.extend(
        refused
            .iter()
            .flat_map(|f| serde_json::from_str::<Vec<String>>(f).unwrap_or_default()),
    );
    fields.sort();
    fields.dedup();

    super::deletions::purge_rows(conn, id, now, &change.hlc).await?;
    if fields.is_empty() {
        return Ok(0);
    }
    let deleted_at = stamp_time(&change.hlc);
    let detail = if author.is_empty() {
        "another device".to_owned()
    } else {
        author.to_owned()
    };
    tracing::info!(customer.id = %id, "local edit discarded: customer deleted elsewhere");
    add_issue(
        conn,
        SyncIssueKind::DiscardedEdit,
        change,
        "deleted",
        fields,
        &detail,
        deleted_at,
        now,
    )
    .await?;
    Ok(1)
}

async fn apply_branch(
    conn: &mut SqliteConnection,
    change: &Change,
    now: DateTime<Utc>,
) -> Result<()> {
    let text = |name: &str| {
        change
            .fields
            .get(name)
            .and_then(|f| f.value.as_str())
            .map(str::to_owned)
    };
    let (Some(name), Some(country), Some(zone)) = (text("name"), text("country"), text("timeZone"))
    else {
        return Ok(());
    };
    let now = time::to_db(now);
    let result = sqlx::query(
        "INSERT INTO branches (id, name, name_key, country, time_zone, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
         name_key = excluded.name_key, country = excluded.country, \
         time_zone = excluded.time_zone, updated_at = excluded.updated_at",
    )
    .bind(&change.entity_id)
    .bind(&name)
    .bind(crate::domain::text::fold(&name))
    .bind(&country)
    .bind(&zone)
    .bind(&now)
    .bind(&now)
    .execute(&mut *conn)
    .await;
    match result {
        Ok(_) => Ok(()),
        // Another branch of this device has that name; the person sorts it out.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            add_issue(
                conn,
                SyncIssueKind::Refused,
                change,
                "branchNameTaken",
                vec!["name".into()],
                &name,
                Utc::now(),
                Utc::now(),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn add_conflict(
    conn: &mut SqliteConnection,
    id: CustomerId,
    field: &str,
    (kept, kept_stamp): (&serde_json::Value, &str),
    (lost, lost_stamp, lost_author): (&serde_json::Value, &str, &str),
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO sync_conflicts (customer_id, field, kept_value, kept_stamp, lost_value, \
         lost_stamp, lost_author, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id.to_string())
    .bind(field)
    .bind(kept.to_string())
    .bind(kept_stamp)
    .bind(lost.to_string())
    .bind(lost_stamp)
    .bind(lost_author)
    .bind(time::to_db(now))
    .execute(conn)
    .await?;
    tracing::info!(customer.id = %id, field, "sync conflict kept");
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn add_issue(
    conn: &mut SqliteConnection,
    kind: SyncIssueKind,
    change: &Change,
    code: &str,
    fields: Vec<String>,
    detail: &str,
    occurred_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    let kind = match kind {
        SyncIssueKind::Refused => "refused",
        SyncIssueKind::DiscardedEdit => "discardedEdit",
    };
    sqlx::query(
        "INSERT INTO sync_issues (kind, entity, entity_id, code, fields, detail, occurred_at, \
         created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(kind)
    .bind(&change.entity)
    .bind(&change.entity_id)
    .bind(code)
    .bind(serde_json::to_string(&fields).unwrap_or_else(|_| "[]".into()))
    .bind(detail)
    .bind(time::to_db(occurred_at))
    .bind(time::to_db(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// The wall time a stamp was made at, by its author's clock.
fn stamp_time(stamp: &str) -> DateTime<Utc> {
    Stamp::from_str(stamp)
        .ok()
        .and_then(|s| {
            Utc.timestamp_millis_opt(i64::try_from(s.millis).ok()?)
                .single()
        })
        .unwrap_or_default()
}
