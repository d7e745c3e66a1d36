//! Errors of the HTTP API and how they become responses: a JSON body with a stable
//! code and a safe message, under the right status. Causes are logged, not returned.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{agent::AgentError, lang::Lang, llm::LlmError, mcp::McpError};

/// The body of every API error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code (`invalid_request`, `too_large`,
    /// `unauthorized`, `toolbox_unavailable`, `llm_unavailable`, `timeout`, …).
    pub error: &'static str,
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
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Self::Agent { error, .. } => match error {
                AgentError::Toolbox(McpError::Unavailable(_))
                | AgentError::Llm(LlmError::Unavailable(_) | LlmError::Refused(_)) => {
                    StatusCode::BAD_GATEWAY
                }
                AgentError::Toolbox(McpError::Timeout { .. })
                | AgentError::Llm(LlmError::Timeout)
                | AgentError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
                AgentError::IterationLimit(_) => StatusCode::UNPROCESSABLE_ENTITY,
                AgentError::Cancelled | AgentError::ClientGone(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            },
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "invalid_request",
            Self::TooLarge(_) => "too_large",
            Self::Unauthorized => "unauthorized",
            Self::ShuttingDown => "unavailable",
            Self::Agent { error, .. } => match error {
                AgentError::Toolbox(McpError::Unavailable(_)) => "toolbox_unavailable",
                AgentError::Llm(LlmError::Unavailable(_) | LlmError::Refused(_)) => {
                    "llm_unavailable"
                }
                AgentError::Toolbox(McpError::Timeout { .. })
                | AgentError::Llm(LlmError::Timeout)
                | AgentError::Timeout(_) => "timeout",
                AgentError::IterationLimit(_) => "iteration_limit",
                AgentError::Cancelled | AgentError::ClientGone(_) => "cancelled",
            },
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
