//! Errors of the HTTP API and how they become responses: a JSON body with a stable
//! code and a safe message, under the right status. Causes are logged, not returned.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header::RETRY_AFTER},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use protocol::ErrorCode;

use crate::session::OpenError;

/// The body of every API error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code (`invalid_request`, `too_large`,
    /// `unauthorized`, `toolbox_unavailable`, `llm_unavailable`, `timeout`, …).
    pub error: String,
    /// What went wrong, safe to show to a user.
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed or empty.
    #[error("{0}")]
    BadRequest(String),
    /// The body or the message is over its size limit.
    #[error("{0}")]
    TooLarge(String),
    /// The thing asked for does not exist (or no longer does).
    #[error("{0}")]
    NotFound(String),
    /// The API key is missing or wrong.
    #[error("an API key is required: send `Authorization: Bearer KEY`")]
    Unauthorized,
    /// The server is shutting down and takes no new work.
    #[error("the server is shutting down; try again shortly")]
    ShuttingDown,
    /// The conversation's queue is full, or the server runs as much as it may.
    #[error("{0}")]
    Busy(String),
    /// The conversation store or the bus cannot be reached.
    #[error("conversations cannot be loaded or saved right now; try again in a moment")]
    StorageUnavailable,
    /// The turn failed; `code` is the WebSocket `error` event's code.
    #[error("{message}")]
    Turn { code: ErrorCode, message: String },
    /// This client sends too much, or runs too many turns at once.
    #[error("{message}")]
    RateLimited {
        message: String,
        /// Seconds to wait, for `Retry-After`.
        retry_after_secs: u64,
    },
}

impl AppError {
    /// No such conversation of the caller.
    pub fn no_conversation() -> Self {
        Self::NotFound("no such conversation".into())
    }
}

impl From<OpenError> for AppError {
    fn from(error: OpenError) -> Self {
        match error {
            // Someone else's conversation looks the same as none.
            OpenError::NotFound | OpenError::NotOwner => Self::no_conversation(),
            OpenError::Unavailable(_) => Self::StorageUnavailable,
            OpenError::Full => {
                Self::Busy("the server holds too many sessions; try again later".into())
            }
        }
    }
}

impl From<crate::store::StoreError> for AppError {
    fn from(error: crate::store::StoreError) -> Self {
        tracing::warn!(%error, "conversation store request failed");
        Self::StorageUnavailable
    }
}

impl AppError {
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Self::Busy(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::StorageUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            // The same classification the WebSocket sends as the error's code.
            Self::Turn { code, .. } => match code {
                ErrorCode::ToolboxUnavailable | ErrorCode::LlmUnavailable => {
                    StatusCode::BAD_GATEWAY
                }
                ErrorCode::Timeout => StatusCode::GATEWAY_TIMEOUT,
                ErrorCode::IterationLimit => StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::Cancelled
                | ErrorCode::Busy
                | ErrorCode::StorageUnavailable
                | ErrorCode::Interrupted => StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::InvalidMessage | ErrorCode::TooLarge => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// The stable code: for turn failures, the WebSocket `error` event's code.
    pub fn code(&self) -> String {
        match self {
            Self::BadRequest(_) => "invalid_request".into(),
            Self::TooLarge(_) => "too_large".into(),
            Self::NotFound(_) => "not_found".into(),
            Self::Unauthorized => "unauthorized".into(),
            Self::ShuttingDown => "unavailable".into(),
            Self::Busy(_) => "busy".into(),
            Self::StorageUnavailable => "storage_unavailable".into(),
            Self::RateLimited { .. } => "rate_limited".into(),
            Self::Turn { code, .. } => serde_json::to_value(code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "internal".into()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::warn!(error.code = self.code(), error.detail = ?self, "API request failed");
        }
        // When to try again: as told for rate limits, in a moment when busy.
        let retry_after = match &self {
            Self::RateLimited {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            Self::ShuttingDown => Some(5),
            Self::Turn {
                code: ErrorCode::Busy,
                ..
            }
            | Self::Busy(_)
            | Self::StorageUnavailable => Some(1),
            _ => None,
        };
        let body = ErrorBody {
            error: self.code(),
            message: self.to_string(),
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
