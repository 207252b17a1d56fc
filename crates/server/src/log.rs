//! The change log: pushes are checked and appended once; pulls read it after a cursor.

use clientela_core::hlc::Stamp;
use clientela_core::sync::{
    parse_change_id, Change, ChangeOp, LoggedChange, PullResponse, PushOutcome, PushResult,
};
use sqlx::{AnyConnection, Row};

use crate::access;
use crate::db::{now, Caller, Db, Role};
use crate::Error;

/// The entities the log carries.
const ENTITIES: [&str; 4] = ["customer", "branch", "tag", "appointment"];

impl Db {
    /// Checks and appends `changes` in one transaction; one result per change, in order.
    pub async fn push(
        &self,
        caller: &Caller,
        changes: &[Change],
    ) -> Result<Vec<PushResult>, Error> {
        let mut tx = self.pool().begin().await?;
        let mut results = Vec::with_capacity(changes.len());
        for change in changes {
            let outcome = push_one(&mut tx, caller, change).await?;
            results.push(PushResult {
                id: change.id.clone(),
                outcome,
            });
        }
        tx.commit().await?;
        let newest = results
            .iter()
            .filter_map(|r| match r.outcome {
                PushOutcome::Applied { seq } => Some(seq),
                _ => None,
            })
            .max();
        if let Some(seq) = newest {
            // The changes are stored; desktops that miss this notice pull on their timer.
            if let Err(e) = self.announce(&caller.company, seq).await {
                tracing::warn!(error = %e, "telling listeners about new changes failed");
            }
        }
        Ok(results)
    }

    /// Up to `limit` changes after `after`, oldest first.
    pub async fn pull(
        &self,
        caller: &Caller,
        after: i64,
        limit: u32,
    ) -> Result<PullResponse, Error> {
        // A branch reads only what it may see; head office reads the whole log.
        let visible = access::visible(self.backend(), caller);
        let sql = format!(
            "SELECT l.seq, l.body, c.name AS author FROM change_log l \
             JOIN credentials c ON c.id = l.author \
             WHERE l.company_id = $1 AND l.seq > $2 AND {visible} ORDER BY l.seq LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&caller.company)
            .bind(after)
            .bind(i64::from(limit) + 1)
            .bind(
                caller
                    .branch
                    .as_deref()
                    .filter(|_| caller.role == Role::Branch),
            )
            .fetch_all(self.pool())
            .await?;
        let more = rows.len() > limit as usize;
        let changes = rows
            .iter()
            .take(limit as usize)
            .map(logged)
            .collect::<Result<Vec<_>, Error>>()?;
        let last_seq = changes.last().map_or(after, |c| c.seq);
        let head = self.last_seq(&caller.company).await?.max(last_seq);
        Ok(PullResponse {
            changes,
            last_seq,
            more,
            head,
        })
    }

    /// Every logged change of one entity that `caller` may see, oldest first: what the
    /// server holds, for a desktop whose change was refused to return to.
    pub async fn history(
        &self,
        caller: &Caller,
        entity: &str,
        entity_id: &str,
    ) -> Result<Vec<LoggedChange>, Error> {
        let visible = access::visible(self.backend(), caller);
        let sql = format!(
            "SELECT l.seq, l.body, c.name AS author FROM change_log l \
             JOIN credentials c ON c.id = l.author \
             WHERE l.company_id = $1 AND l.entity = $2 AND l.entity_id = $3 AND {visible} \
             ORDER BY l.seq"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&caller.company)
            .bind(entity)
            .bind(entity_id)
            .bind(
                caller
                    .branch
                    .as_deref()
                    .filter(|_| caller.role == Role::Branch),
            )
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(logged).collect()
    }

    /// The highest sequence in the company's log, for notifications.
    pub async fn last_seq(&self, company: &str) -> Result<i64, Error> {
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT max(seq) FROM change_log WHERE company_id = $1")
                .bind(company)
                .fetch_one(self.pool())
                .await?;
        Ok(seq.unwrap_or(0))
    }
}

fn logged(row: &sqlx::any::AnyRow) -> Result<LoggedChange, Error> {
    let body: String = row.try_get("body")?;
    let change = serde_json::from_str(&body)
        .map_err(|e| Error::invalid("change_log.body", e.to_string()))?;
    Ok(LoggedChange {
        seq: row.try_get("seq")?,
        author: row.try_get("author")?,
        change,
    })
}

async fn push_one(
    conn: &mut AnyConnection,
    caller: &Caller,
    change: &Change,
) -> Result<PushOutcome, Error> {
    if let Err(reason) = check(change) {
        return Ok(refused("invalidChange", reason));
    }
    let logged: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM change_log WHERE company_id = $1 AND change_id = $2")
            .bind(&caller.company)
            .bind(&change.id)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(seq) = logged {
        return Ok(PushOutcome::Duplicate { seq });
    }
    let tombstone: Option<(i64, String)> = sqlx::query_as(
        "SELECT seq, deleted_at FROM tombstones \
         WHERE company_id = $1 AND entity = $2 AND entity_id = $3",
    )
    .bind(&caller.company)
    .bind(&change.entity)
    .bind(&change.entity_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((seq, deleted_at)) = tombstone {
        return Ok(match change.op {
            ChangeOp::Delete => PushOutcome::Duplicate { seq },
            ChangeOp::Upsert => refused(
                "deleted",
                format!("the {} was deleted on {deleted_at}", change.entity),
            ),
        });
    }

    if let Some(refusal) = access::refusal(conn, caller, change).await? {
        return Ok(refusal);
    }

    if change.op == ChangeOp::Delete {
        // Deleted means deleted: the entity's earlier changes, with their personal data,
        // leave the log; the deletion itself tells every device.
        sqlx::query(
            "DELETE FROM change_log WHERE company_id = $1 AND entity = $2 AND entity_id = $3",
        )
        .bind(&caller.company)
        .bind(&change.entity)
        .bind(&change.entity_id)
        .execute(&mut *conn)
        .await?;
    }
    let body =
        serde_json::to_string(change).map_err(|e| Error::invalid("change", e.to_string()))?;
    let received_at = now();
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO change_log (company_id, change_id, entity, entity_id, body, author, \
         received_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
    )
    .bind(&caller.company)
    .bind(&change.id)
    .bind(&change.entity)
    .bind(&change.entity_id)
    .bind(body)
    .bind(&caller.credential)
    .bind(&received_at)
    .fetch_one(&mut *conn)
    .await?;
    access::record(conn, &caller.company, change).await?;
    if change.op == ChangeOp::Delete {
        sqlx::query(
            "INSERT INTO tombstones (company_id, entity, entity_id, seq, deleted_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&caller.company)
        .bind(&change.entity)
        .bind(&change.entity_id)
        .bind(seq)
        .bind(&received_at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(PushOutcome::Applied { seq })
}

/// A change the server cannot take as it is; the reason names the field.
fn check(change: &Change) -> Result<(), String> {
    if parse_change_id(&change.id).is_none() {
        return Err("id: not of the form <node uuid>:<sequence>".into());
    }
    if !ENTITIES.contains(&change.entity.as_str()) {
        return Err(format!(
            "entity: {:?} is not one of {ENTITIES:?}",
            change.entity
        ));
    }
    if uuid::Uuid::parse_str(&change.entity_id).is_err() {
        return Err("entityId: not a UUID".into());
    }
    if change.hlc.parse::<Stamp>().is_err() {
        return Err("hlc: not a clock stamp".into());
    }
    if change.op == ChangeOp::Delete && !change.fields.is_empty() {
        return Err("fields: a delete carries no fields".into());
    }
    for (name, field) in &change.fields {
        if field.stamp.parse::<Stamp>().is_err() {
            return Err(format!("fields.{name}.stamp: not a clock stamp"));
        }
        if field
            .base
            .as_deref()
            .is_some_and(|b| b.parse::<Stamp>().is_err())
        {
            return Err(format!("fields.{name}.base: not a clock stamp"));
        }
    }
    Ok(())
}

fn refused(code: &str, message: impl Into<String>) -> PushOutcome {
    PushOutcome::Refused {
        code: code.to_owned(),
        message: message.into(),
    }
}
