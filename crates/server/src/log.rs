//! The change log: pushes are checked and appended once; pulls read it after a cursor.

use clientela_core::hlc::Stamp;
use clientela_core::sync::{
    parse_change_id, Change, ChangeOp, LoggedChange, PullResponse, PushOutcome, PushResult,
};
use futures_util::TryStreamExt;
use sqlx::{AnyConnection, Row};

use crate::db::{now, Backend, Caller, Db, Role};
use crate::Error;
use crate::{access, records};

/// About how much change text one pull page carries at most.
const PAGE_BYTES: usize = 8 * 1024 * 1024;

/// The entities the log carries.
const ENTITIES: [&str; 4] = ["customer", "branch", "tag", "appointment"];

impl Db {
    /// Checks and appends `changes` in one transaction; one result per change, in order.
    pub async fn push(
        &self,
        caller: &Caller,
        changes: &[Change],
    ) -> Result<Vec<PushResult>, Error> {
        let mut tx = self.begin_write(&caller.company).await?;
        let results = push_in(&mut tx, caller, changes).await?;
        self.commit_and_announce(tx, &caller.company, &results)
            .await?;
        Ok(results)
    }

    /// A transaction for writing to a company's log, taken in turn with every other: what
    /// a write reads before it writes (an external id free, an appointment booked) is still
    /// true when it commits.
    pub(crate) async fn begin_write(
        &self,
        company: &str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, Error> {
        match self.backend() {
            // The write lock is taken at once: a transaction that read first and wrote
            // later would fail when another push committed in between.
            Backend::Sqlite => Ok(self.pool().begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres => {
                let mut tx = self.pool().begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                    .bind(company)
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }

    /// Commits a write and tells listeners of the changes it applied.
    pub(crate) async fn commit_and_announce(
        &self,
        tx: sqlx::Transaction<'static, sqlx::Any>,
        company: &str,
        results: &[PushResult],
    ) -> Result<(), Error> {
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
            if let Err(e) = self.announce(company, seq).await {
                tracing::warn!(error = %e, "telling listeners about new changes failed");
            }
        }
        Ok(())
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
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&caller.company)
            .bind(after)
            .bind(i64::from(limit) + 1)
            .bind(
                caller
                    .branch
                    .as_deref()
                    .filter(|_| caller.role == Role::Branch),
            )
            .fetch(self.pool());
        // A page ends at `limit` changes or at about PAGE_BYTES of them, whichever comes
        // first, so that a log of large changes never needs a huge answer.
        let mut changes = Vec::new();
        let mut bytes = 0;
        let mut more = false;
        while let Some(row) = rows.try_next().await? {
            if changes.len() == limit as usize || bytes >= PAGE_BYTES {
                more = true;
                break;
            }
            let change = logged(&row)?;
            bytes += row.try_get::<String, _>("body")?.len();
            changes.push(change);
        }
        drop(rows);
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

/// Checks and appends `changes` inside the caller's transaction.
pub(crate) async fn push_in(
    conn: &mut AnyConnection,
    caller: &Caller,
    changes: &[Change],
) -> Result<Vec<PushResult>, Error> {
    let mut results = Vec::with_capacity(changes.len());
    for change in changes {
        let outcome = push_one(conn, caller, change).await?;
        results.push(PushResult {
            id: change.id.clone(),
            outcome,
        });
    }
    Ok(results)
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
        if change.entity == "customer" {
            // Its appointments go with it, from the log too.
            sqlx::query(
                "DELETE FROM change_log WHERE company_id = $1 AND entity = 'appointment' \
                 AND entity_id IN (SELECT id FROM records WHERE company_id = $1 \
                 AND entity = 'appointment' AND customer_id = $2)",
            )
            .bind(&caller.company)
            .bind(&change.entity_id)
            .execute(&mut *conn)
            .await?;
        }
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
    // The same change pushed twice at the same moment (a retry racing the original): one
    // insert wins, the other finds it and answers duplicate.
    let seq: Option<i64> = sqlx::query_scalar(
        "INSERT INTO change_log (company_id, change_id, entity, entity_id, body, author, \
         received_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (company_id, change_id) DO NOTHING RETURNING seq",
    )
    .bind(&caller.company)
    .bind(&change.id)
    .bind(&change.entity)
    .bind(&change.entity_id)
    .bind(body)
    .bind(&caller.credential)
    .bind(&received_at)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(seq) = seq else {
        let seq: i64 = sqlx::query_scalar(
            "SELECT seq FROM change_log WHERE company_id = $1 AND change_id = $2",
        )
        .bind(&caller.company)
        .bind(&change.id)
        .fetch_one(&mut *conn)
        .await?;
        return Ok(PushOutcome::Duplicate { seq });
    };
    access::record(conn, &caller.company, change).await?;
    records::apply(conn, &caller.company, change).await?;
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
    // Ids and stamps are compared as text here and on every device: only one spelling of
    // each is accepted, so that "ABC" and "abc" can never name two things.
    let canonical_id = parse_change_id(&change.id)
        .filter(|(_, seq)| *seq > 0)
        .is_some_and(|(node, seq)| format!("{node}:{seq}") == change.id);
    if !canonical_id {
        return Err("id: not of the form <node uuid, lower case>:<sequence from 1>".into());
    }
    if !ENTITIES.contains(&change.entity.as_str()) {
        return Err(format!(
            "entity: {:?} is not one of {ENTITIES:?}",
            change.entity
        ));
    }
    if !is_canonical_uuid(&change.entity_id) {
        return Err("entityId: not a UUID in lower case with hyphens".into());
    }
    check_stamp("hlc", &change.hlc)?;
    if change.op == ChangeOp::Delete && !change.fields.is_empty() {
        return Err("fields: a delete carries no fields".into());
    }
    for (name, field) in &change.fields {
        check_stamp(&format!("fields.{name}.stamp"), &field.stamp)?;
        if let Some(base) = &field.base {
            check_stamp(&format!("fields.{name}.base"), base)?;
        }
        if depth(&field.value) > MAX_VALUE_DEPTH {
            return Err(format!(
                "fields.{name}.value: nested deeper than {MAX_VALUE_DEPTH} levels"
            ));
        }
    }
    Ok(())
}

/// Customer values are at most a list of objects; anything much deeper is not a field.
const MAX_VALUE_DEPTH: usize = 8;

/// How far ahead of the server's clock a stamp may be: a device whose clock runs later
/// than that would push every other device's clock ahead for good.
const MAX_AHEAD_MILLIS: u64 = 24 * 60 * 60 * 1000;

pub(crate) fn is_canonical_uuid(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok_and(|u| u.hyphenated().to_string() == text)
}

fn check_stamp(field: &str, text: &str) -> Result<(), String> {
    let stamp: Stamp = text
        .parse()
        .map_err(|_| format!("{field}: not a clock stamp"))?;
    if stamp.to_string() != text {
        return Err(format!(
            "{field}: not a clock stamp in its fixed-width form"
        ));
    }
    let now = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    if stamp.millis > now.saturating_add(MAX_AHEAD_MILLIS) {
        return Err(format!(
            "{field}: more than a day ahead of the server's clock; check the device's date"
        ));
    }
    if stamp.counter > 999_999 {
        return Err(format!("{field}: counter out of range"));
    }
    Ok(())
}

fn depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn refused(code: &str, message: impl Into<String>) -> PushOutcome {
    PushOutcome::Refused {
        code: code.to_owned(),
        message: message.into(),
    }
}
