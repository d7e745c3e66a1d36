//! Errors of the HTTP API and how they become responses: a JSON body with a stable
//! code and a safe message, under the right status. Causes are logged, not returned.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use protocol::ErrorCode;

use crate::{agent::AgentError, lang::Lang};

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
    /// The turn failed.
    #[error("{}", .error.user_message(*.lang))]
    Agent { error: AgentError, lang: Lang },
}

impl AppError {
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            // The same classification the WebSocket sends as the error's code.
            Self::Agent { error, .. } => match error.code() {
                ErrorCode::ToolboxUnavailable | ErrorCode::LlmUnavailable => {
                    StatusCode::BAD_GATEWAY
                }
                ErrorCode::Timeout => StatusCode::GATEWAY_TIMEOUT,
                ErrorCode::IterationLimit => StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::Cancelled => StatusCode::SERVICE_UNAVAILABLE,
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
            Self::Agent { error, .. } => serde_json::to_value(error.code())
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
        let body = ErrorBody {
            error: self.code(),
            message: self.to_string(),
        };
        (status, Json(body)).into_response()
    }
}
