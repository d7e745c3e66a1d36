//! `/api/conversations`: the caller's conversations. A conversation is a session:
//! its id is the `session_id` of the WebSocket's `ready`. Only its owner sees it;
//! to anyone else it does not exist (404).

use axum::{
    Json,
    extract::{Path, State, rejection::JsonRejection},
    http::StatusCode,
};
use protocol::ConversationSummary;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::{
    error::{AppError, ErrorBody},
    owner::Owner,
    state::AppState,
    store::{TurnRecord, TurnStatus, journal::ConversationMeta},
    transcript::Transcript,
};

/// Conversations listed at most.
const LIST_LIMIT: u32 = 200;
/// Longest title accepted, in characters.
const MAX_TITLE_CHARS: usize = 200;

/// A conversation in the list.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "9b1c2d3e4f5a6b7c", "title": "Suma 10 y 5", "created_ms": 1764400000000_u64,
    "updated_ms": 1764400005000_u64, "turns": 2
}))]
pub struct ConversationItem {
    pub id: String,
    pub title: String,
    /// Unix milliseconds.
    pub created_ms: u64,
    pub updated_ms: u64,
    pub turns: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub usage: Option<protocol::Usage>,
}

impl From<ConversationSummary> for ConversationItem {
    fn from(c: ConversationSummary) -> Self {
        Self {
            id: c.id,
            title: c.title,
            created_ms: c.created_ms,
            updated_ms: c.updated_ms,
            turns: c.turns,
            usage: c.usage,
        }
    }
}

/// One turn of a conversation: the question and what answered it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TurnDetail {
    pub question: String,
    /// `complete`, `failed`, `cancelled`, `interrupted` or `running`.
    pub status: String,
    #[serde(flatten)]
    pub transcript: Transcript,
}

/// A conversation with its turns (replaced ones left out), oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationDetail {
    pub conversation: ConversationItem,
    pub turns: Vec<TurnDetail>,
}

/// A new title (documents the body; the handler validates it by hand).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({ "title": "Sums" }))]
pub struct Rename {
    pub title: String,
}

/// The caller's conversations, most recently updated first.
#[utoipa::path(
    get,
    path = "/api/conversations",
    responses(
        (status = 200, description = "The caller's conversations", body = Vec<ConversationItem>),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    owner: Owner,
) -> Result<Json<Vec<ConversationItem>>, AppError> {
    let store = state.hub.journal.store();
    // Sessions held here know their latest turns before the store does.
    let mut items: Vec<ConversationSummary> = store
        .list(owner.hash(), LIST_LIMIT)
        .await?
        .iter()
        .map(|c| {
            let live = state.hub.get(&c.id).and_then(|s| s.summary());
            live.unwrap_or_else(|| c.summary())
        })
        .collect();
    // Conversations whose first turn is not stored yet.
    for meta in state.hub.journal.pending_metas() {
        if owner.owns(&meta.owner) && !items.iter().any(|c| c.id == meta.id) {
            let live = state.hub.get(&meta.id).and_then(|s| s.summary());
            items.push(live.unwrap_or_else(|| summary_of(&meta)));
        }
    }
    items.sort_by(|a, b| b.updated_ms.cmp(&a.updated_ms).then(a.id.cmp(&b.id)));
    Ok(Json(items.into_iter().map(Into::into).collect()))
}

fn summary_of(meta: &ConversationMeta) -> ConversationSummary {
    ConversationSummary {
        id: meta.id.clone(),
        title: meta.title.clone(),
        created_ms: meta.created_ms,
        updated_ms: crate::clock::now_ms(),
        turns: 1,
        usage: None,
    }
}

/// The conversation `id` of the caller, if it exists.
async fn owned(state: &AppState, owner: &Owner, id: &str) -> Result<ConversationSummary, AppError> {
    if let Some(session) = state.hub.get(id) {
        if !session.owned_by(owner) {
            return Err(AppError::no_conversation());
        }
        if let Some(stored) = state.hub.journal.store().conversation(id).await? {
            return Ok(stored.summary());
        }
        return session.summary().ok_or(AppError::no_conversation());
    }
    match state.hub.journal.store().conversation(id).await? {
        Some(stored) if owner.owns(&stored.owner) => Ok(stored.summary()),
        _ => Err(AppError::no_conversation()),
    }
}

/// One conversation of the caller, with its turns.
#[utoipa::path(
    get,
    path = "/api/conversations/{id}",
    params(("id" = String, Path, description = "The conversation (the WebSocket session id)")),
    responses(
        (status = 200, description = "The conversation and its turns", body = ConversationDetail),
        (status = 404, description = "No such conversation of the caller", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn read(
    State(state): State<AppState>,
    owner: Owner,
    Path(id): Path<String>,
) -> Result<Json<ConversationDetail>, AppError> {
    let summary = owned(&state, &owner, &id).await?;
    let records = state.hub.journal.turns(&id, 0).await?;
    Ok(Json(ConversationDetail {
        conversation: summary.into(),
        turns: details(&records),
    }))
}

/// The turns worth showing: asked by the user, not replaced.
fn details(records: &[TurnRecord]) -> Vec<TurnDetail> {
    let replaced: Vec<&str> = records
        .iter()
        .filter_map(|r| r.replaces.as_deref())
        .collect();
    records
        .iter()
        .filter(|r| !r.question.is_empty() && !replaced.contains(&r.turn_id.as_str()))
        .map(|record| TurnDetail {
            question: record.question.clone(),
            status: match record.status {
                TurnStatus::Running => "running",
                TurnStatus::Complete => "complete",
                TurnStatus::Failed => "failed",
                TurnStatus::Cancelled => "cancelled",
                TurnStatus::Interrupted => "interrupted",
            }
            .to_owned(),
            transcript: Transcript::of_frames(
                &record.turn_id,
                record.events.iter().map(|f| f.as_ref()),
            ),
        })
        .collect()
}

/// Renames a conversation of the caller.
#[utoipa::path(
    patch,
    path = "/api/conversations/{id}",
    params(("id" = String, Path, description = "The conversation")),
    request_body = Rename,
    responses(
        (status = 200, description = "Renamed", body = ConversationItem),
        (status = 400, description = "Missing or invalid title", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller", body = ErrorBody),
    )
)]
pub async fn rename(
    State(state): State<AppState>,
    owner: Owner,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<ConversationItem>, AppError> {
    let Ok(Json(body)) = body else {
        return Err(AppError::BadRequest(
            "expected a JSON body such as {\"title\":\"…\"}".into(),
        ));
    };
    let title = match body.get("title") {
        Some(Value::String(title)) => title.trim(),
        _ => return Err(AppError::BadRequest("\"title\" must be a string".into())),
    };
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err(AppError::BadRequest(format!(
            "\"title\" must have 1 to {MAX_TITLE_CHARS} characters"
        )));
    }
    owned(&state, &owner, &id).await?;
    state
        .hub
        .journal
        .store()
        .rename(&id, owner.hash(), title)
        .await?;
    if let Some(session) = state.hub.get(&id) {
        session.rename(title);
    }
    let summary = owned(&state, &owner, &id).await?;
    Ok(Json(summary.into()))
}

/// Deletes a conversation of the caller, with its events, everywhere.
#[utoipa::path(
    delete,
    path = "/api/conversations/{id}",
    params(("id" = String, Path, description = "The conversation")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such conversation of the caller", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    owner: Owner,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    if state.hub.delete(&id, &owner).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::no_conversation())
    }
}
