//! What the commands share: the local store, the import in progress and sync.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clientela_core::import::SourceTable;
use clientela_core::store::Store;
use clientela_core::sync::Syncer;
use tokio::sync::Mutex;

use crate::error::CommandError;

/// The app's shared state, managed by Tauri.
pub struct AppState {
    pub store: Store,
    /// The file read by the import wizard, kept between its steps.
    pub import: Mutex<Option<Arc<SourceTable>>>,
    /// Set to stop the running import; nothing is written when it stops.
    pub import_cancel: AtomicBool,
    /// The preferences file, beside the database.
    pub preferences: PathBuf,
    /// The sync account and rounds.
    pub syncer: Syncer,
}

impl AppState {
    /// State around an open store.
    pub fn new(store: Store, preferences: PathBuf) -> Self {
        Self {
            store,
            import: Mutex::new(None),
            import_cancel: AtomicBool::new(false),
            preferences,
            syncer: Syncer::default(),
        }
    }

    /// The file the wizard read last.
    pub async fn opened_import(&self) -> Result<Arc<SourceTable>, CommandError> {
        self.import
            .lock()
            .await
            .clone()
            .ok_or_else(CommandError::import_not_read)
    }
}
