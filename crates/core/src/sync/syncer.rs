//! The desktop's sync account and rounds: sign-in, status, and one round at a time.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::client::{sync_with_progress, SyncClient, SyncError, SyncReport};
use super::Session;
use crate::store::Store;

/// What the status area and the Sync screen show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SyncState {
    /// The server address, when signed in.
    pub server_url: Option<String>,
    pub session: Option<Session>,
    /// The last round reached the server.
    pub online: bool,
    /// Changes made here that the server has not acknowledged yet.
    pub waiting: u32,
    pub last_sync_at: Option<DateTime<Utc>>,
    /// Code of the last round's failure, if it failed.
    pub last_error: Option<String>,
    /// Unresolved conflicts and sync issues, for the Sync issues panel.
    pub conflicts: u32,
    pub issues: u32,
}

/// Signs in and out and runs sync rounds, one at a time.
#[derive(Debug, Default)]
pub struct Syncer {
    connection: Mutex<Connection>,
    round: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct Connection {
    client: Option<SyncClient>,
    online: bool,
    last_error: Option<String>,
}

impl Syncer {
    /// Picks up the account saved by an earlier sign-in.
    pub async fn restore(&self, store: &Store) -> Result<(), SyncError> {
        if let Some((url, secret)) = store.sync_account().await? {
            let client = SyncClient::new(&url, &secret)?;
            self.connection().client = Some(client);
        }
        Ok(())
    }

    /// Checks the credential with the server and saves it. With a branch credential the
    /// desktop shows that branch's view.
    pub async fn sign_in(
        &self,
        store: &Store,
        server_url: &str,
        secret: &str,
    ) -> Result<Session, SyncError> {
        let client = SyncClient::new(server_url, secret)?;
        let session = client.session().await?;
        store
            .save_sync_account(server_url.trim(), secret.trim(), &session)
            .await?;
        {
            let mut connection = self.connection();
            connection.client = Some(client);
            connection.online = true;
            connection.last_error = None;
        }
        tracing::info!(role = ?session.role, "signed in to the sync server");
        Ok(session)
    }

    /// Forgets the account; local data and unsent changes stay.
    pub async fn sign_out(&self, store: &Store) -> Result<(), SyncError> {
        let _round = self.round.lock().await;
        store.forget_sync_account().await?;
        let mut connection = self.connection();
        *connection = Connection::default();
        Ok(())
    }

    /// One round, unless one is running or nobody signed in (`None`).
    pub async fn round(
        &self,
        store: &Store,
        now: DateTime<Utc>,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<Option<SyncReport>, SyncError> {
        let Ok(_round) = self.round.try_lock() else {
            return Ok(None);
        };
        let client = self.connection().client.clone();
        let Some(client) = client else {
            return Ok(None);
        };
        let result = sync_with_progress(store, &client, now, progress).await;
        self.record(&result);
        if result.is_ok() {
            store.set_last_sync(now).await?;
        }
        result.map(Some)
    }

    /// The status as the UI shows it.
    pub async fn state(&self, store: &Store) -> Result<SyncState, SyncError> {
        let (online, last_error) = {
            let c = self.connection();
            (c.client.is_some() && c.online, c.last_error.clone())
        };
        let account = store.sync_account().await?;
        Ok(SyncState {
            server_url: account.map(|(url, _)| url),
            session: store.sync_session().await?,
            online,
            waiting: store.outbox_len().await?,
            last_sync_at: store.last_sync().await?,
            last_error,
            conflicts: u32::try_from(store.sync_conflicts().await?.len()).unwrap_or(u32::MAX),
            issues: u32::try_from(store.sync_issues().await?.len()).unwrap_or(u32::MAX),
        })
    }

    /// The connection to the server, when signed in.
    pub fn client(&self) -> Option<SyncClient> {
        self.connection().client.clone()
    }

    /// Remembers how the last round went, for the status area.
    fn record(&self, result: &Result<SyncReport, SyncError>) {
        let mut connection = self.connection();
        match result {
            Ok(_) => {
                connection.online = true;
                connection.last_error = None;
            }
            Err(e) => {
                connection.online = !matches!(e, SyncError::Offline(_));
                connection.last_error = Some(e.code().to_owned());
            }
        }
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
