//! Sync in the background: a round as soon as changes wait, every little while anyway, and
//! right after sign-in, with the status told to the UI after each one.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clientela_core::sync::SyncState;
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager};
use tauri_specta::Event;

use crate::error::CommandResult;
use crate::state::AppState;

/// How often the outbox is looked at: changes made here go out within this time.
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// How often a round runs anyway, to pull other devices' changes.
const PULL_EVERY: Duration = Duration::from_secs(15);

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

/// Restores the saved account and runs rounds until the app closes.
pub fn spawn(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        if let Err(e) = state.syncer.restore(&state.store).await {
            tracing::warn!(code = e.code(), "the saved sync account could not be used");
        }
        let mut every = tokio::time::interval(LOOK_EVERY);
        let mut last_round: Option<Instant> = None;
        loop {
            every.tick().await;
            let waiting = state.store.outbox_len().await.unwrap_or(0) > 0;
            let due = last_round.is_none_or(|at| at.elapsed() >= PULL_EVERY);
            if waiting || due {
                last_round = Some(Instant::now());
                // Failures are in the status the UI shows; the next round tries again.
                let _ = round(&app, Utc::now()).await;
            }
        }
    });
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
