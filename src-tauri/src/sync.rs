//! Sync in the background: a round as soon as changes wait here, as soon as the server
//! says another device changed something, right after sign-in, and every minute anyway;
//! the status is told to the UI after each one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clientela_core::sync::SyncState;
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager};
use tauri_specta::Event;
use tokio::sync::Notify;

use crate::error::CommandResult;
use crate::state::AppState;

/// How often the outbox is looked at: changes made here go out within this time.
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// How often a round runs anyway, in case a notification was missed.
const PULL_EVERY: Duration = Duration::from_secs(60);
/// How long to wait before listening to the server again after the connection dropped.
const RECONNECT_AFTER: Duration = Duration::from_secs(5);

/// The sync status changed (a round ended, or the account changed).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct SyncChanged {
    pub state: SyncState,
    /// Changes pulled from other devices in this round.
    pub pulled: u32,
}

/// Progress of a long download, such as the first one.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct SyncProgress {
    pub done: u32,
    pub total: u32,
}

/// Restores the saved account and runs rounds until the app closes: when changes wait,
/// when the server says another device changed something, and every little while.
pub fn spawn(app: AppHandle) {
    let wake = Arc::new(Notify::new());
    tauri::async_runtime::spawn(listen(app.clone(), wake.clone()));
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        if let Err(e) = state.syncer.restore(&state.store).await {
            tracing::warn!(code = e.code(), "the saved sync account could not be used");
        }
        let mut every = tokio::time::interval(LOOK_EVERY);
        let mut last_round: Option<Instant> = None;
        loop {
            let told = tokio::select! {
                _ = every.tick() => false,
                () = wake.notified() => true,
            };
            let waiting = state.store.outbox_len().await.unwrap_or(0) > 0;
            let due = last_round.is_none_or(|at| at.elapsed() >= PULL_EVERY);
            if told || waiting || due {
                last_round = Some(Instant::now());
                // Failures are in the status the UI shows; the next round tries again.
                let _ = round(&app, Utc::now()).await;
            }
        }
    });
}

/// Keeps the server's change notifications open while signed in, waking the rounds.
async fn listen(app: AppHandle, wake: Arc<Notify>) {
    let state = app.state::<AppState>();
    loop {
        if let Some(client) = state.syncer.client() {
            let mut on_head = |_head| wake.notify_one();
            if let Err(e) = client.watch(&mut on_head).await {
                tracing::debug!(code = e.code(), "change notifications stopped");
            }
        }
        // Signed out, or the connection dropped: look again in a moment.
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

/// Starts a round soon, without waiting for it.
pub fn nudge(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let _ = round(&app, Utc::now()).await;
    });
}

/// Runs a round and tells the UI how it went.
pub async fn round(app: &AppHandle, now: DateTime<Utc>) -> CommandResult<()> {
    let state = app.state::<AppState>();
    let emitter = app.clone();
    let mut progress = move |done: u64, total: u64| {
        let event = SyncProgress {
            done: u32::try_from(done).unwrap_or(u32::MAX),
            total: u32::try_from(total).unwrap_or(u32::MAX),
        };
        let _ = event.emit(&emitter);
    };
    let result = state.syncer.round(&state.store, now, &mut progress).await;
    let pulled = match &result {
        Ok(Some(report)) => report.pulled,
        _ => 0,
    };
    if let Ok(state) = state.syncer.state(&state.store).await {
        let _ = SyncChanged { state, pulled }.emit(app);
    }
    result?;
    Ok(())
}

/// Tells the UI the current status.
pub async fn announce(app: &AppHandle) {
    let state = app.state::<AppState>();
    if let Ok(state) = state.syncer.state(&state.store).await {
        let _ = SyncChanged { state, pulled: 0 }.emit(app);
    }
}
