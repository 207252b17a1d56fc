//! The Tauri commands, grouped by screen. Each one takes state and arguments, calls the
//! core and converts the error.

pub mod catalog;
pub mod customers;
pub mod import;
pub mod sync;

use serde::Serialize;

/// Facts about the running app for the Settings screen.
#[derive(Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub version: String,
    /// Where the UI keeps its preferences: beside the database.
    pub preferences_path: String,
}

/// The app's version and where its preferences live.
#[tauri::command]
#[specta::specta]
pub fn app_info(state: tauri::State<'_, crate::state::AppState>) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        preferences_path: state.preferences.to_string_lossy().into_owned(),
    }
}
