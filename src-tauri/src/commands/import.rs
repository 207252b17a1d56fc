//! The import wizard: read a dropped or chosen file, review it, write it.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::Utc;
use clientela_core::import::{Delimiter, ReadOptions, TextEncoding};
use clientela_core::importer::{
    open_file, FilePreview, ImportProgress, ImportReview, ImportSettings,
};
use clientela_core::store::ImportSummary;
use tauri::ipc::Channel;
use tauri::State;

use crate::error::{CommandError, CommandResult};
use crate::state::AppState;

/// Reads the file at `path` (again, with another encoding or delimiter if given) and keeps
/// it for the next steps.
#[tauri::command]
#[specta::specta]
pub async fn import_read(
    state: State<'_, AppState>,
    path: String,
    encoding: Option<TextEncoding>,
    delimiter: Option<Delimiter>,
) -> CommandResult<FilePreview> {
    let path = PathBuf::from(path);
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| CommandError::read_file(&e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let opened = tokio::task::spawn_blocking(move || {
        open_file(
            &bytes,
            &name,
            ReadOptions {
                encoding,
                delimiter,
            },
        )
    })
    .await
    .map_err(CommandError::internal)??;
    let preview = opened.preview();
    *state.import.lock().await = Some(Arc::new(opened.table));
    Ok(preview)
}

/// The preview step: what the import would do, with every problem, before writing.
#[tauri::command]
#[specta::specta]
pub async fn import_analyze(
    state: State<'_, AppState>,
    settings: ImportSettings,
) -> CommandResult<ImportReview> {
    let table = state.opened_import().await?;
    Ok(state.store.review_import(&table, &settings).await?)
}

/// Writes the file's customers, all or nothing, reporting progress on `on_progress`.
#[tauri::command]
#[specta::specta]
pub async fn import_run(
    state: State<'_, AppState>,
    settings: ImportSettings,
    on_progress: Channel<ImportProgress>,
) -> CommandResult<ImportSummary> {
    let table = state.opened_import().await?;
    state.import_cancel.store(false, Ordering::Relaxed);
    let mut report = |p: ImportProgress| {
        let _ = on_progress.send(p);
    };
    let summary = state
        .store
        .run_import(
            &table,
            &settings,
            Utc::now(),
            &state.import_cancel,
            &mut report,
        )
        .await?;
    *state.import.lock().await = None;
    Ok(summary)
}

/// Stops the running import; nothing of it is written.
#[tauri::command]
#[specta::specta]
pub fn import_cancel(state: State<'_, AppState>) {
    state.import_cancel.store(true, Ordering::Relaxed);
}
