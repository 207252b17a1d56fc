//! The outbox: changes waiting for the sync client, written in the change's transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::SqliteConnection;
use uuid::Uuid;

use super::time;
use crate::hlc::Stamp;
use crate::Result;

/// What a change does to its entity.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    Upsert,
    Delete,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Upsert => "upsert",
            Op::Delete => "delete",
        }
    }
}

/// Appends one change to the outbox.
pub(crate) async fn push(
    conn: &mut SqliteConnection,
    entity: &str,
    entity_id: &str,
    op: Op,
    payload: &impl Serialize,
    stamp: Stamp,
    now: DateTime<Utc>,
) -> Result<()> {
    let payload = serde_json::to_string(payload).map_err(|e| crate::Error::InvalidInput {
        field: "outbox payload",
        reason: e.to_string(),
    })?;
    sqlx::query(
        "INSERT INTO outbox (change_id, entity, entity_id, op, payload, hlc, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(entity)
    .bind(entity_id)
    .bind(op.as_str())
    .bind(payload)
    .bind(stamp.to_string())
    .bind(time::to_db(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Appends one "created" change per new customer, in batches.
pub(crate) async fn push_customers(
    conn: &mut SqliteConnection,
    customers: &[super::rows::NewCustomer<'_>],
    stamp: Stamp,
    now: DateTime<Utc>,
) -> Result<()> {
    let created_at = time::to_db(now);
    let stamp = stamp.to_string();
    let mut rows = Vec::with_capacity(customers.len());
    for c in customers {
        rows.push((c.id.to_string(), super::customers::created_payload(c)?));
    }
    const HEAD: &str =
        "INSERT INTO outbox (change_id, entity, entity_id, op, payload, hlc, created_at) ";
    super::rows::insert_values(conn, HEAD, &rows, 128, |mut row, (id, payload)| {
        row.push_bind(Uuid::now_v7().to_string())
            .push_bind("customer")
            .push_bind(id.clone())
            .push_bind(Op::Upsert.as_str())
            .push_bind(payload.clone())
            .push_bind(stamp.clone())
            .push_bind(created_at.clone());
    })
    .await?;
    Ok(())
}

/// Removes unsent changes of one entity: a deleted customer's personal data must not
/// wait in the queue (DESIGN.md, rule 9).
pub(crate) async fn forget(
    conn: &mut SqliteConnection,
    entity: &str,
    entity_id: &str,
) -> Result<()> {
    sqlx::query("DELETE FROM outbox WHERE entity = ? AND entity_id = ?")
        .bind(entity)
        .bind(entity_id)
        .execute(conn)
        .await?;
    Ok(())
}

impl super::Store {
    /// How many changes wait to be sent.
    pub async fn outbox_len(&self) -> Result<u32> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
            .fetch_one(self.pool())
            .await?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}
