//! Signing in to the sync server, its status, and what sync could not do.

use chrono::Utc;
use clientela_core::store::{SyncConflict, SyncIssue};
use clientela_core::sync::{Session, SyncState};
use serde::Serialize;
use tauri::{AppHandle, State};

use crate::error::CommandResult;
use crate::state::AppState;

/// The status area: online or not, changes waiting, last sync.
#[tauri::command]
#[specta::specta]
pub async fn sync_state(state: State<'_, AppState>) -> CommandResult<SyncState> {
    Ok(state.syncer.state(&state.store).await?)
}

/// Checks the credential with the server, saves it and starts the first download.
#[tauri::command]
#[specta::specta]
pub async fn sync_sign_in(
    app: AppHandle,
    state: State<'_, AppState>,
    server_url: String,
    secret: String,
) -> CommandResult<Session> {
    let session = state
        .syncer
        .sign_in(&state.store, &server_url, &secret)
        .await?;
    crate::sync::nudge(&app);
    Ok(session)
}

/// Forgets the account; local data and unsent changes stay.
#[tauri::command]
#[specta::specta]
pub async fn sync_sign_out(app: AppHandle, state: State<'_, AppState>) -> CommandResult<()> {
    state.syncer.sign_out(&state.store).await?;
    crate::sync::announce(&app).await;
    Ok(())
}

/// Runs a round now.
#[tauri::command]
#[specta::specta]
pub async fn sync_now(app: AppHandle) -> CommandResult<()> {
    crate::sync::round(&app, Utc::now()).await
}

/// The Sync issues panel.
#[derive(Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SyncProblems {
    pub conflicts: Vec<SyncConflict>,
    pub issues: Vec<SyncIssue>,
}

/// Unresolved conflicts, refused changes and discarded edits.
#[tauri::command]
#[specta::specta]
pub async fn sync_problems(state: State<'_, AppState>) -> CommandResult<SyncProblems> {
    Ok(SyncProblems {
        conflicts: state.store.sync_conflicts().await?,
        issues: state.store.sync_issues().await?,
    })
}
