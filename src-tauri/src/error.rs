//! The error every command returns: a stable code the UI translates, and a plain
//! message for the log. Never personal data.

use clientela_core::domain::validate::FieldProblem;
use serde::Serialize;

/// An error as the UI receives it.
#[derive(Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CommandError {
    pub code: String,
    pub message: String,
    /// Field problems, for `invalidCustomer`.
    pub fields: Vec<FieldProblem>,
}

impl From<clientela_core::Error> for CommandError {
    fn from(e: clientela_core::Error) -> Self {
        tracing::warn!(code = e.code(), error = %e, "command failed");
        Self {
            code: e.code().to_owned(),
            message: e.to_string(),
            fields: e.field_problems().to_vec(),
        }
    }
}

impl From<clientela_core::sync::SyncError> for CommandError {
    fn from(e: clientela_core::sync::SyncError) -> Self {
        if let clientela_core::sync::SyncError::Store(e) = e {
            return e.into();
        }
        tracing::warn!(code = e.code(), error = %e, "sync failed");
        Self::new(e.code(), e.to_string())
    }
}

/// What every command returns.
pub type CommandResult<T> = Result<T, CommandError>;

impl CommandError {
    fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// A file that could not be read from disk; the path is not logged.
    pub fn read_file(e: &std::io::Error) -> Self {
        tracing::warn!(kind = ?e.kind(), "reading an import file failed");
        Self::new(
            "readFile",
            format!("the file could not be read: {}", e.kind()),
        )
    }

    /// A file that could not be written; the path is not logged.
    pub fn write_file(e: &std::io::Error) -> Self {
        tracing::warn!(kind = ?e.kind(), "writing an export file failed");
        Self::new(
            "writeFile",
            format!("the file could not be written: {}", e.kind()),
        )
    }

    /// The wizard lost its file (e.g. a second window, or a finished import).
    pub fn import_not_read() -> Self {
        Self::new("importNotRead", "no file has been read for import")
    }

    /// A background task died; a bug, not the user's fault.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal failure");
        Self::new("unexpected", e.to_string())
    }
}
