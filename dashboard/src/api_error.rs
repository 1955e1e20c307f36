//! Errors as HTTP answers: each [`cairn_runtime::Error`] (and each refusal of the dashboard
//! itself) becomes a status code and a JSON body `{"error": {"kind": ..., "message": ...}}`,
//! so a script can tell an unknown run (404) from a run in the wrong status (409) from an
//! answer that does not fit the question (422).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cairn_runtime::Error;

/// One refused or failed request.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, machine-readable name: `unknown_run`, `invalid_answer`, `csrf`, ...
    pub kind: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    /// An error with its parts.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
        }
    }

    /// 400: a query or body the dashboard cannot read.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        let (status, kind) = match &error {
            Error::UnknownRun { .. } => (StatusCode::NOT_FOUND, "unknown_run"),
            Error::UnknownWorkflow { .. } => (StatusCode::NOT_FOUND, "unknown_workflow"),
            Error::InvalidAnswer { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_answer"),
            Error::InvalidArgument { .. } => (StatusCode::BAD_REQUEST, "invalid_argument"),
            Error::NotWaiting { .. } => (StatusCode::CONFLICT, "not_waiting"),
            Error::AlreadyAnswered { .. } => (StatusCode::CONFLICT, "already_answered"),
            Error::NotCancellable { .. } => (StatusCode::CONFLICT, "not_cancellable"),
            Error::NotPausable { .. } => (StatusCode::CONFLICT, "not_pausable"),
            Error::NotPaused { .. } => (StatusCode::CONFLICT, "not_paused"),
            Error::NotResumable { .. } => (StatusCode::CONFLICT, "not_resumable"),
            Error::ReadOnly { .. } => (StatusCode::CONFLICT, "read_only"),
            Error::CorruptState { .. } => (StatusCode::CONFLICT, "corrupt_state"),
            Error::ShutDown => (StatusCode::SERVICE_UNAVAILABLE, "shut_down"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, kind, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": { "kind": self.kind, "message": self.message }
        });
        (self.status, Json(body)).into_response()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.kind, self.message)
    }
}

impl std::error::Error for ApiError {}
