//! The desktop's sync client: pushes the outbox and pulls the log over HTTP, and hands
//! what it gets to the store, which knows nothing of the network.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use super::{
    ApiError, LoggedChange, PullResponse, PushRequest, PushResponse, Session, MAX_PULL, MAX_PUSH,
};
use crate::store::Store;

/// A connection to one sync server with one credential.
#[derive(Debug, Clone)]
pub struct SyncClient {
    http: reqwest::Client,
    base: String,
    secret: String,
}

/// Why a sync round stopped. Nothing pulled or pushed is lost: the round can be repeated.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("the server cannot be reached: {0}")]
    Offline(#[source] reqwest::Error),
    #[error("the server refused the credential")]
    Unauthorized,
    #[error("the server answered {status}: {code}: {message}")]
    Server {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the server address is not valid: {0}")]
    BadAddress(String),
    #[error("the server's change notifications stopped: {0}")]
    Events(String),
    #[error(transparent)]
    Store(#[from] crate::Error),
}

impl SyncError {
    /// A stable code for the UI.
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::Offline(_) => "syncOffline",
            SyncError::Unauthorized => "syncUnauthorized",
            SyncError::Server { .. } => "syncServer",
            SyncError::BadAddress(_) => "syncBadAddress",
            SyncError::Events(_) => "syncOffline",
            SyncError::Store(e) => e.code(),
        }
    }
}

/// What one sync round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub pushed: u32,
    pub refused: u32,
    pub pulled: u32,
    pub conflicts: u32,
    pub discarded: u32,
}

impl SyncClient {
    /// A client for the server at `base_url` (`http://host:port`); `secret` is never logged.
    pub fn new(base_url: &str, secret: &str) -> Result<Self, SyncError> {
        let base = base_url.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(SyncError::BadAddress(base.to_owned()));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(SyncError::Offline)?;
        Ok(Self {
            http,
            base: base.to_owned(),
            secret: secret.trim().to_owned(),
        })
    }

    /// Who the credential is; refused credentials give `Unauthorized`.
    pub async fn session(&self) -> Result<Session, SyncError> {
        self.get("/v1/session").await
    }

    /// Listens to the server's log: calls `on_head` with the log's last sequence when the
    /// connection opens and whenever it grows. Returns when the connection drops.
    pub async fn watch(&self, on_head: &mut (dyn FnMut(i64) + Send)) -> Result<(), SyncError> {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        use tokio_tungstenite::tungstenite::Message;

        let url = match self.base.strip_prefix("http") {
            Some(rest) => format!("ws{rest}/v1/sync/events"),
            None => return Err(SyncError::BadAddress(self.base.clone())),
        };
        let mut request = url
            .into_client_request()
            .map_err(|e| SyncError::Events(e.to_string()))?;
        let bearer = format!("Bearer {}", self.secret)
            .parse()
            .map_err(|_| SyncError::BadAddress("credential".into()))?;
        request.headers_mut().insert("authorization", bearer);
        let (mut socket, _) =
            tokio_tungstenite::connect_async(request)
                .await
                .map_err(|e| match e {
                    tokio_tungstenite::tungstenite::Error::Http(r) if r.status() == 401 => {
                        SyncError::Unauthorized
                    }
                    other => SyncError::Events(other.to_string()),
                })?;
        while let Some(message) = socket.next().await {
            let message = message.map_err(|e| SyncError::Events(e.to_string()))?;
            if let Message::Text(text) = message {
                let head = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v["head"].as_i64());
                if let Some(head) = head {
                    on_head(head);
                }
            }
        }
        Ok(())
    }

    /// What the server holds about one entity, oldest change first.
    pub async fn history(&self, entity: &str, id: &str) -> Result<Vec<LoggedChange>, SyncError> {
        self.get(&format!("/v1/sync/history?entity={entity}&id={id}"))
            .await
    }

    pub async fn push(&self, request: &PushRequest) -> Result<PushResponse, SyncError> {
        let response = self
            .http
            .post(format!("{}/v1/sync/push", self.base))
            .bearer_auth(&self.secret)
            .json(request)
            .send()
            .await
            .map_err(SyncError::Offline)?;
        read(response).await
    }

    pub async fn pull(&self, after: i64, limit: u32) -> Result<PullResponse, SyncError> {
        self.get(&format!("/v1/sync/pull?after={after}&limit={limit}"))
            .await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, SyncError> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.secret)
            .send()
            .await
            .map_err(SyncError::Offline)?;
        read(response).await
    }
}

async fn read<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, SyncError> {
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(SyncError::Unauthorized);
    }
    if !status.is_success() {
        let error: ApiError = response.json().await.unwrap_or(ApiError {
            code: "unknown".into(),
            message: status.to_string(),
        });
        return Err(SyncError::Server {
            status: status.as_u16(),
            code: error.code,
            message: error.message,
        });
    }
    response.json().await.map_err(SyncError::Offline)
}

/// One sync round: pushes the whole outbox, then pulls everything after the cursor.
/// `now` is this device's wall time.
pub async fn sync_once(
    store: &Store,
    client: &SyncClient,
    now: DateTime<Utc>,
) -> Result<SyncReport, SyncError> {
    sync_with_progress(store, client, now, &mut |_, _| {}).await
}

/// [`sync_once`], calling `progress(pulled, to_pull)` after each page pulled.
pub async fn sync_with_progress(
    store: &Store,
    client: &SyncClient,
    now: DateTime<Utc>,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<SyncReport, SyncError> {
    let mut report = SyncReport::default();
    loop {
        let outgoing = store.outgoing_changes(MAX_PUSH as u32).await?;
        if outgoing.is_empty() {
            break;
        }
        let request = PushRequest {
            changes: outgoing.iter().map(|o| o.change.clone()).collect(),
        };
        let response = client.push(&request).await?;
        let refused = response
            .results
            .iter()
            .filter(|r| matches!(r.outcome, super::PushOutcome::Refused { .. }))
            .count();
        store
            .settle_pushed(&outgoing, &response.results, now)
            .await?;
        // A refused change leaves this device holding a value nobody else has: it goes
        // back to what the server holds. (A refusal because the customer was deleted is
        // settled by the deletion, which the pull brings.)
        for (sent, result) in outgoing.iter().zip(&response.results) {
            let refused = match &result.outcome {
                super::PushOutcome::Refused { code, .. } => code != "deleted",
                _ => false,
            };
            if refused && sent.change.entity == "customer" {
                let history = client.history("customer", &sent.change.entity_id).await?;
                store
                    .return_to_server(&sent.change.entity_id, &history, now)
                    .await?;
            }
        }
        report.pushed += u32::try_from(outgoing.len()).unwrap_or(u32::MAX);
        report.refused += u32::try_from(refused).unwrap_or(u32::MAX);
    }
    let start = store.sync_cursor().await?;
    let mut after = start;
    loop {
        let page = client.pull(after, MAX_PULL).await?;
        let applied = store
            .apply_pulled(&page.changes, page.last_seq, now)
            .await?;
        report.pulled += applied.changes;
        report.conflicts += applied.conflicts;
        report.discarded += applied.discarded;
        after = page.last_seq;
        let done = u64::try_from(after - start).unwrap_or(0);
        let total = u64::try_from(page.head - start).unwrap_or(0);
        progress(done, total.max(done));
        if !page.more {
            break;
        }
    }
    tracing::info!(
        op.pushed = report.pushed,
        op.refused = report.refused,
        op.pulled = report.pulled,
        op.conflicts = report.conflicts,
        "sync round done"
    );
    Ok(report)
}
