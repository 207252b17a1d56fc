//! The server's errors. Each has a stable code; over HTTP they become `{ code, message }`
//! with a 4xx status when the caller can fix them, and a 5xx (without details) otherwise.

use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use clientela_core::sync::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the database failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the database could not be migrated: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the data folder {0} cannot be used: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("no random numbers: {0}")]
    Random(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{field} is not valid: {reason}")]
    Invalid { field: String, reason: String },
    #[error("the request has no valid credential")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("this route does not take that method")]
    MethodNotAllowed,
    #[error("the request body is larger than the server takes (2 MB)")]
    TooLarge,
    #[error("{}", list_problems(.0))]
    InvalidFields(Vec<(String, String)>),
    /// The request is well formed but clashes with what is stored.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The change log's checks refused the change the request made.
    #[error("{message}")]
    Refused { code: String, message: String },
}

fn list_problems(problems: &[(String, String)]) -> String {
    let named: Vec<String> = problems
        .iter()
        .map(|(field, reason)| format!("{field}: {reason}"))
        .collect();
    format!("not valid: {}", named.join("; "))
}

impl Error {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The stable code clients branch on.
    pub fn code(&self) -> &str {
        match self {
            Error::Database(_) | Error::Migrate(_) | Error::DataDir(..) | Error::Random(_) => {
                "internal"
            }
            Error::NotFound(_) => "notFound",
            Error::Invalid { .. } | Error::InvalidFields(_) => "invalidInput",
            Error::Conflict { code, .. } => code,
            Error::Refused { code, .. } => code,
            Error::Unauthorized => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::MethodNotAllowed => "methodNotAllowed",
            Error::TooLarge => "tooLarge",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Error::Database(_) | Error::Migrate(_) | Error::DataDir(..) | Error::Random(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Invalid { .. } | Error::InvalidFields(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::Refused { code, .. } => match code.as_str() {
                "invalidChange" => StatusCode::UNPROCESSABLE_ENTITY,
                "deleted" => StatusCode::CONFLICT,
                _ => StatusCode::FORBIDDEN,
            },
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
            "the server could not complete the request".to_owned()
        } else {
            self.to_string()
        };
        let body = ApiError {
            code: self.code().to_owned(),
            message,
        };
        (status, Json(body)).into_response()
    }
}
