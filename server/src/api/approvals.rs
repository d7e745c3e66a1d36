//! `POST /api/conversations/{id}/approvals/{call_id}`: approves or denies a tool call
//! that a turn of the caller's conversation announced with `approval_required` (on
//! `/api/chat/stream`, or a WebSocket). The decision reaches the turn on whichever
//! server runs it; the turn then goes on and sends `approval_resolved`.

use axum::{
    Json,
    extract::{Path, State, rejection::JsonRejection},
    http::StatusCode,
};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{
    error::{AppError, ErrorBody},
    owner::Owner,
    session::DecideError,
    state::AppState,
};

/// The answer to `approval_required`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({ "approve": false, "reason": "not on production" }))]
pub struct ApprovalAnswer {
    /// `true` runs the tool call; `false` refuses it (the model is told).
    pub approve: bool,
    /// Why it is refused, passed on to the model.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Approves or denies a tool call waiting for approval.
#[utoipa::path(
    post,
    path = "/api/conversations/{id}/approvals/{call_id}",
    params(
        ("id" = String, Path, description = "The conversation (X-Conversation-Id of the stream)"),
        ("call_id" = String, Path, description = "The call_id of approval_required"),
    ),
    request_body = ApprovalAnswer,
    responses(
        (status = 204, description = "The decision was delivered"),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller, or no tool call with this call_id waits for approval", body = ErrorBody),
        (status = 503, description = "The decision could not be delivered", body = ErrorBody),
    )
)]
pub async fn answer(
    State(state): State<AppState>,
    owner: Owner,
    Path((id, call_id)): Path<(String, String)>,
    body: Result<Json<ApprovalAnswer>, JsonRejection>,
) -> Result<StatusCode, AppError> {
    let Json(answer) = body.map_err(|rejection| {
        AppError::BadRequest(format!(
            "expected a JSON body such as {{\"approve\":true}}: {}",
            rejection.body_text()
        ))
    })?;
    let session = state.hub.open(&id, &owner).await?;
    state
        .hub
        .decide(&session, call_id, answer.approve, answer.reason)
        .await
        .map_err(|error| match error {
            DecideError::NotPending => AppError::NotFound(error.to_string()),
            DecideError::Unavailable => AppError::StorageUnavailable,
        })?;
    Ok(StatusCode::NO_CONTENT)
}
