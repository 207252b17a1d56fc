//! Deleting customers (DESIGN.md, rules 7 to 9): branches without a future appointment
//! let the customer go at once; blocked branches keep a deletion request until their
//! appointment is cancelled, deleted or over; then only a tombstone remains.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Row, SqliteConnection};

use super::appointments::slots_of;
use super::customers;
use super::outbox::{self, Op};
use super::{time, Store};
use crate::domain::deletion::{plan_deletion, DeletionPlan};
use crate::domain::{AppointmentId, BranchId, CustomerId, Origin};
use crate::{Error, Result};

/// One branch as a deletion names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BranchRef {
    pub id: BranchId,
    pub name: String,
    pub time_zone: String,
}

/// A branch that keeps the customer, and the appointment that is the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BlockedBranch {
    pub branch: BranchRef,
    pub appointment: AppointmentId,
    pub starts_at: DateTime<Utc>,
}

/// What deleting a customer does, or did, in each branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DeletionOutcome {
    pub customer: CustomerId,
    /// True when the customer is gone everywhere.
    pub completed: bool,
    pub cleared: Vec<BranchRef>,
    pub blocked: Vec<BlockedBranch>,
}

/// A row of Customers to delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PendingDeletion {
    pub customer: CustomerId,
    pub first_name: String,
    pub last_name: String,
    pub requested_at: DateTime<Utc>,
    pub blocked: Vec<BlockedBranch>,
}

impl Store {
    /// What deleting the customer now would do, without doing it.
    pub async fn deletion_preview(
        &self,
        id: CustomerId,
        now: DateTime<Utc>,
    ) -> Result<DeletionOutcome> {
        let mut conn = self.pool().acquire().await?;
        let plan = plan_for(&mut conn, id, now).await?;
        outcome(&mut conn, id, &plan).await
    }

    /// Deletes the customer in every branch that allows it now; the rest wait in
    /// Customers to delete.
    #[tracing::instrument(skip_all, fields(customer.id = %id))]
    pub async fn delete_customer(
        &self,
        id: CustomerId,
        now: DateTime<Utc>,
    ) -> Result<DeletionOutcome> {
        let customer = self.customer(id).await?;
        if customer.origin == Origin::Global && self.local_branch().await?.is_some() {
            return Err(Error::GlobalDelete);
        }
        let mut tx = self.pool().begin().await?;
        let plan = plan_for(&mut tx, id, now).await?;
        let result = outcome(&mut tx, id, &plan).await?;
        let completed = plan.is_complete();
        if completed {
            self.purge(&mut tx, id, now).await?;
        } else {
            sqlx::query(
                "INSERT OR IGNORE INTO deletion_requests (customer_id, requested_at) VALUES (?, ?)",
            )
            .bind(id.to_string())
            .bind(time::to_db(now))
            .execute(&mut *tx)
            .await?;
            keep_only_blocked_branches(&mut tx, id, &plan).await?;
            // The customer left the cleared branches: its assignment changed.
            let payload = customers::CustomerChange {
                origin: customer.origin,
                changed: vec!["assignment".into()],
                base: Default::default(),
            };
            let stamp = self.stamp(now);
            let mut stamps = customers::stamp_map(&customers::stamps_of(&mut tx, id).await?);
            stamps.insert("assignment".into(), stamp.to_string());
            sqlx::query("UPDATE customers SET field_stamps = ? WHERE id = ?")
                .bind(customers::stamps_text(&stamps))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            outbox::push(
                &mut tx,
                "customer",
                &id.to_string(),
                Op::Upsert,
                &payload,
                stamp,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        if completed {
            self.checkpoint().await;
        }
        tracing::info!(
            completed = plan.is_complete(),
            op.cleared = plan.cleared.len(),
            op.blocked = plan.blocked.len(),
            "customer deletion"
        );
        Ok(result)
    }

    /// Completes the deletion of `id` if no branch blocks it any more. Returns whether the
    /// customer is now gone.
    pub async fn retry_deletion(&self, id: CustomerId, now: DateTime<Utc>) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        let pending: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM deletion_requests WHERE customer_id = ?")
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        if pending.is_none() {
            let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM customers WHERE id = ?")
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
            return match exists {
                Some(_) => Ok(false),
                None => Err(Error::not_found("customer", id)),
            };
        }
        let plan = plan_for(&mut tx, id, now).await?;
        if !plan.is_complete() {
            keep_only_blocked_branches(&mut tx, id, &plan).await?;
            tx.commit().await?;
            return Ok(false);
        }
        self.purge(&mut tx, id, now).await?;
        tx.commit().await?;
        self.checkpoint().await;
        tracing::info!(customer.id = %id, "pending deletion completed");
        Ok(true)
    }

    /// Completes every pending deletion whose appointments are gone or over. Returns how
    /// many completed.
    pub async fn retry_deletions(&self, now: DateTime<Utc>) -> Result<u32> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT customer_id FROM deletion_requests")
            .fetch_all(self.pool())
            .await?;
        let mut completed = 0;
        for id in ids.iter().filter_map(|s| s.parse().ok()) {
            if self.retry_deletion(id, now).await? {
                completed += 1;
            }
        }
        Ok(completed)
    }

    /// Customers to delete: every deletion still blocked, with its reasons.
    pub async fn pending_deletions(&self, now: DateTime<Utc>) -> Result<Vec<PendingDeletion>> {
        let mut conn = self.pool().acquire().await?;
        let rows = sqlx::query(
            "SELECT c.id, c.first_name, c.last_name, d.requested_at FROM deletion_requests d \
             JOIN customers c ON c.id = d.customer_id ORDER BY d.requested_at, c.id",
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut pending = Vec::with_capacity(rows.len());
        for row in rows {
            let id: CustomerId = row
                .try_get::<String, _>("id")?
                .parse()
                .map_err(|_| Error::not_found("customer", "?"))?;
            let plan = plan_for(&mut conn, id, now).await?;
            pending.push(PendingDeletion {
                customer: id,
                first_name: row.try_get("first_name")?,
                last_name: row.try_get("last_name")?,
                requested_at: time::from_db(&row.try_get::<String, _>("requested_at")?)?,
                blocked: outcome(&mut conn, id, &plan).await?.blocked,
            });
        }
        Ok(pending)
    }

    /// Removes every trace of the customer but its id (rule 9), and queues the deletion
    /// for the other devices.
    async fn purge(
        &self,
        conn: &mut SqliteConnection,
        id: CustomerId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let stamp = self.stamp(now);
        purge_rows(conn, id, now, &stamp.to_string()).await?;
        outbox::push(
            conn,
            "customer",
            &id.to_string(),
            Op::Delete,
            &serde_json::json!({}),
            stamp,
            now,
        )
        .await
    }
}

/// Removes the customer, its appointments and its unsent changes, leaving a tombstone
/// stamped `hlc`.
pub(crate) async fn purge_rows(
    conn: &mut SqliteConnection,
    id: CustomerId,
    now: DateTime<Utc>,
    hlc: &str,
) -> Result<()> {
    let key = id.to_string();
    outbox::forget(conn, "customer", &key).await?;
    sqlx::query(
        "DELETE FROM outbox WHERE entity = 'appointment' AND entity_id IN \
         (SELECT id FROM appointments WHERE customer_id = ?)",
    )
    .bind(&key)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM customers WHERE id = ?")
        .bind(&key)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT OR REPLACE INTO tombstones (customer_id, deleted_at, hlc) VALUES (?, ?, ?)",
    )
    .bind(&key)
    .bind(time::to_db(now))
    .bind(hlc)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Refuses changes to a customer whose deletion head office has already ordered.
pub(crate) async fn refuse_if_pending(conn: &mut SqliteConnection, id: CustomerId) -> Result<()> {
    let pending: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM deletion_requests WHERE customer_id = ?")
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
    match pending {
        Some(_) => Err(Error::DeletionPending),
        None => Ok(()),
    }
}

/// The branches the customer is in: its origin branch, or its assignment.
async fn branches_of(conn: &mut SqliteConnection, id: CustomerId) -> Result<Vec<BranchId>> {
    let row = sqlx::query("SELECT all_branches, origin_branch_id FROM customers WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::not_found("customer", id))?;
    let ids: Vec<String> = if row.try_get::<bool, _>("all_branches")? {
        sqlx::query_scalar("SELECT id FROM branches")
            .fetch_all(&mut *conn)
            .await?
    } else if let Some(origin) = row.try_get::<Option<String>, _>("origin_branch_id")? {
        vec![origin]
    } else {
        sqlx::query_scalar(
            "SELECT branch_id FROM customer_branches WHERE customer = \
             (SELECT rid FROM customers WHERE id = ?)",
        )
        .bind(id.to_string())
        .fetch_all(&mut *conn)
        .await?
    };
    Ok(ids.iter().filter_map(|s| s.parse().ok()).collect())
}

async fn plan_for(
    conn: &mut SqliteConnection,
    id: CustomerId,
    now: DateTime<Utc>,
) -> Result<DeletionPlan> {
    let branches = branches_of(conn, id).await?;
    let slots = slots_of(conn, id).await?;
    Ok(plan_deletion(&branches, &slots, now))
}

/// The customer leaves every cleared branch at once and stays only where it is blocked.
async fn keep_only_blocked_branches(
    conn: &mut SqliteConnection,
    id: CustomerId,
    plan: &DeletionPlan,
) -> Result<()> {
    let key = id.to_string();
    sqlx::query("UPDATE customers SET all_branches = 0 WHERE id = ?")
        .bind(&key)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "DELETE FROM customer_branches WHERE customer = (SELECT rid FROM customers WHERE id = ?)",
    )
    .bind(&key)
    .execute(&mut *conn)
    .await?;
    for block in &plan.blocked {
        sqlx::query(
            "INSERT OR IGNORE INTO customer_branches (customer, branch_id) \
             VALUES ((SELECT rid FROM customers WHERE id = ?), ?)",
        )
        .bind(&key)
        .bind(block.branch.to_string())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn branch_ref(conn: &mut SqliteConnection, id: BranchId) -> Result<BranchRef> {
    let row = sqlx::query("SELECT name, time_zone FROM branches WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::not_found("branch", id))?;
    Ok(BranchRef {
        id,
        name: row.try_get("name")?,
        time_zone: row.try_get("time_zone")?,
    })
}

async fn outcome(
    conn: &mut SqliteConnection,
    customer: CustomerId,
    plan: &DeletionPlan,
) -> Result<DeletionOutcome> {
    let mut cleared = Vec::with_capacity(plan.cleared.len());
    for id in &plan.cleared {
        cleared.push(branch_ref(conn, *id).await?);
    }
    let mut blocked = Vec::with_capacity(plan.blocked.len());
    for block in &plan.blocked {
        blocked.push(BlockedBranch {
            branch: branch_ref(conn, block.branch).await?,
            appointment: block.appointment,
            starts_at: block.starts_at,
        });
    }
    Ok(DeletionOutcome {
        customer,
        completed: plan.is_complete(),
        cleared,
        blocked,
    })
}
