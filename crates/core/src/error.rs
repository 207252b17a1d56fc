//! The core's error type. Each variant has a stable code that the UI branches on.

use crate::domain::validate::FieldProblem;
use crate::import::{FileError, MappingError};

/// Anything the core can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the local database failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the local database failed: {0}")]
    DatabaseWrite(#[from] rusqlite::Error),
    #[error("the local database could not be migrated: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{entity} {id} does not exist")]
    NotFound { entity: &'static str, id: String },
    #[error("the customer is not valid: {} problem(s)", .0.len())]
    InvalidCustomer(Vec<FieldProblem>),
    #[error("a branch named like that already exists")]
    BranchNameTaken,
    #[error("a tag named like that already exists")]
    TagNameTaken,
    #[error("the external id is already used by another customer")]
    ExternalIdTaken,
    #[error("{field} is not valid: {reason}")]
    InvalidInput { field: &'static str, reason: String },
    #[error("the file cannot be imported: {0}")]
    ImportFile(#[from] crate::import::FileError),
    #[error("the file names branches that do not exist: {}", .0.join(", "))]
    UnknownBranches(Vec<String>),
    #[error("the column mapping cannot be used: {0}")]
    ImportMapping(crate::import::MappingError),
    #[error("the customer is being deleted; it can no longer be changed or booked")]
    DeletionPending,
    #[error("the import was cancelled; nothing was written")]
    Cancelled,
    #[error("branches cannot change global customers in this company")]
    BranchEditsOff,
    #[error("only head office can delete a global customer")]
    GlobalDelete,
}

/// Shorthand for results of the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A stable, machine-readable code for the UI.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Database(_) | Error::DatabaseWrite(_) | Error::Migrate(_) => "database",
            Error::NotFound { .. } => "notFound",
            Error::InvalidCustomer(_) => "invalidCustomer",
            Error::BranchNameTaken => "branchNameTaken",
            Error::TagNameTaken => "tagNameTaken",
            Error::ExternalIdTaken => "externalIdTaken",
            Error::InvalidInput { .. } => "invalidInput",
            Error::ImportFile(e) => match e {
                FileError::Empty => "importEmpty",
                FileError::NotText => "importNotText",
                FileError::Workbook => "importWorkbook",
                FileError::NoHeader => "importNoHeader",
                FileError::NoContacts => "importNoContacts",
                FileError::TooLarge => "importTooLarge",
            },
            Error::UnknownBranches(_) => "importUnknownBranches",
            Error::ImportMapping(MappingError::DuplicateHeader { .. }) => "importDuplicateHeader",
            Error::ImportMapping(MappingError::NoUsableColumn) => "importNoUsableColumn",
            Error::ImportMapping(MappingError::UnknownColumn { .. }) => "importUnknownColumn",
            Error::DeletionPending => "deletionPending",
            Error::Cancelled => "cancelled",
            Error::BranchEditsOff => "branchEditsOff",
            Error::GlobalDelete => "globalDelete",
        }
    }

    /// Field problems, for errors that have them.
    pub fn field_problems(&self) -> &[FieldProblem] {
        match self {
            Error::InvalidCustomer(problems) => problems,
            _ => &[],
        }
    }

    pub(crate) fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Error::NotFound {
            entity,
            id: id.to_string(),
        }
    }
}
