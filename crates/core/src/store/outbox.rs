//! The outbox: changes waiting for the sync client, written in the change's transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::SqliteConnection;

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
        "INSERT INTO outbox (entity, entity_id, op, payload, hlc, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
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

/// Appends one "created" change per new customer.
pub(crate) async fn push_customers(
    conn: &mut SqliteConnection,
    customers: &[super::rows::NewCustomer<'_>],
    stamp: Stamp,
    now: DateTime<Utc>,
) -> Result<()> {
    let payloads = customers
        .iter()
        .map(super::customers::created_payload)
        .collect::<Result<Vec<_>>>()?;
    let (stamp, now) = (stamp.to_string(), time::to_db(now));
    super::raw::with_raw(conn, |db| {
        let mut insert = db.prepare(
            "INSERT INTO outbox (entity, entity_id, op, payload, hlc, created_at) \
             VALUES ('customer', ?, ?, ?, ?, ?)",
        )?;
        for (c, payload) in customers.iter().zip(&payloads) {
            insert.execute((c.id.to_string(), Op::Upsert.as_str(), payload, &stamp, &now))?;
        }
        Ok(())
    })
    .await
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
