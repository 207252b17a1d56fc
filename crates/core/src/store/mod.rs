//! The local store: one SQLite file per desktop (WAL, foreign keys, embedded migrations).
//!
//! Every change a person makes is written together with its outbox entry in one
//! transaction, so it survives a crash and waits for the sync client.

mod appointments;
mod branches;
mod customers;
mod deletions;
mod import;
mod list;
mod outbox;
mod raw;
mod rows;
mod sync;
mod tags;
mod time;

use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::SqlitePool;
use uuid::Uuid;

use crate::hlc::{Clock, Stamp};
use crate::Result;

pub use appointments::{Appointment, NewAppointment};
pub use branches::{Branch, BranchInput};
pub use deletions::{BlockedBranch, BranchRef, DeletionOutcome, PendingDeletion};
pub use import::{ImportConflict, ImportItem, ImportPlacement, ImportSummary, StoredMatches};
pub use list::{CustomerFilter, CustomerPage, CustomerRow, OriginFilter, SortKey};
pub use sync::{Applied, OutgoingChange, SyncConflict, SyncIssue, SyncIssueKind};
pub use tags::Tag;

/// The desktop's local database.
#[derive(Debug)]
pub struct Store {
    pool: SqlitePool,
    clock: Mutex<Clock>,
}

impl Store {
    /// Opens (creating if needed) the database file at `path` and brings its schema up to
    /// date.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            // Takes effect when the file is created. Bigger pages make shallower trees: an
            // import of 100,000 customers writes about 15 % faster than with 4 KiB.
            .page_size(16384)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory")
            // Deleted means deleted (rule 9): freed pages are zeroed, not left readable.
            .pragma("secure_delete", "on");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;

        let node = node_id(&pool).await?;
        let last = last_stamp(&pool).await?;
        tracing::info!(node = %node, "local store open");
        Ok(Self {
            pool,
            clock: Mutex::new(Clock::new(node, last)),
        })
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Moves every committed page into the database file and empties the WAL, so content
    /// removed with `secure_delete` leaves no copy behind. Best effort: a busy reader only
    /// delays it to the next checkpoint.
    pub(crate) async fn checkpoint(&self) {
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %e, "checkpoint after a deletion failed");
        }
    }

    /// A connection for one big write whose commit does not wait for the checkpoint: the
    /// pages stay in the WAL until `checkpoint_later` moves them, off the caller's path.
    /// It is closed, not pooled, when dropped, so its setting goes with it.
    pub(crate) async fn bulk_connection(&self) -> Result<PoolConnection<Sqlite>> {
        let mut conn = self.pool.acquire().await?;
        conn.close_on_drop();
        sqlx::query("PRAGMA wal_autocheckpoint = 0")
            .execute(&mut *conn)
            .await?;
        Ok(conn)
    }

    /// Moves committed WAL pages into the database file in the background, as far as
    /// readers allow. Without a runtime to run it on, the next commit's automatic
    /// checkpoint does it.
    pub(crate) fn checkpoint_later(&self) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let pool = self.pool.clone();
        handle.spawn(async move {
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                tracing::warn!(error = %e, "background checkpoint failed");
            }
        });
    }

    /// A new clock stamp for a change made now.
    pub(crate) fn stamp(&self, now: DateTime<Utc>) -> Stamp {
        self.clock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .tick(now)
    }

    /// Takes in a stamp seen in another device's change, so later local stamps sort after it.
    pub(crate) fn observe(&self, remote: Stamp) {
        self.clock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .observe(remote);
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Reads an id column of a row; a malformed id means the file was damaged.
pub(crate) fn id_in<T: FromStr>(row: &sqlx::sqlite::SqliteRow, column: &str) -> Result<T> {
    use sqlx::Row;
    let text: String = row.try_get(column)?;
    text.parse().map_err(|_| crate::Error::InvalidInput {
        field: "stored id",
        reason: format!("column {column} does not hold an id"),
    })
}

/// This database's node id for clock stamps, made on first open.
async fn node_id(pool: &SqlitePool) -> Result<Uuid> {
    let candidate = Uuid::now_v7().to_string();
    sqlx::query("INSERT OR IGNORE INTO meta (key, value) VALUES ('node_id', ?)")
        .bind(&candidate)
        .execute(pool)
        .await?;
    let stored: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'node_id'")
        .fetch_one(pool)
        .await?;
    Uuid::parse_str(&stored).map_err(|_| crate::Error::InvalidInput {
        field: "meta.node_id",
        reason: "not a UUID".into(),
    })
}

/// The latest stamp this database handed out, so the clock never goes back on reopen.
async fn last_stamp(pool: &SqlitePool) -> Result<Option<Stamp>> {
    let latest: Option<String> = sqlx::query_scalar(
        "SELECT max(hlc) FROM (SELECT max(hlc) AS hlc FROM outbox \
         UNION ALL SELECT max(hlc) FROM tombstones \
         UNION ALL SELECT value FROM meta WHERE key = 'last_hlc')",
    )
    .fetch_one(pool)
    .await?;
    Ok(latest.and_then(|s| Stamp::from_str(&s).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bulk_connection_setting_never_reaches_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("clientela.db")).await.unwrap();
        drop(store.bulk_connection().await.unwrap());

        // Every connection the pool can hand out still checkpoints by itself.
        let mut held = Vec::new();
        for _ in 0..4 {
            let mut conn = store.pool().acquire().await.unwrap();
            let pages: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(pages, 1000);
            held.push(conn);
        }
    }
}
