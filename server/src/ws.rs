//! `GET /ws`: the WebSocket endpoint of the chat protocol.
//!
//! A *connection* is one socket; a *session* is one conversation, held by the
//! session hub and stored. A connection follows one session at a time; `resume`
//! moves it to another session of the same owner.

pub mod connection;
mod rate;
pub mod writer;

use axum::{
    Json,
    extract::{State, WebSocketUpgrade},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{owner::Owner, security, state::AppState};

/// The subprotocol the server selects when a browser offers it (with `bearer.KEY`).
pub const SUBPROTOCOL: &str = "toolstream";

/// Checks the origin and capacity, then upgrades and hands the socket to a
/// [`connection`]. An API key problem is reported after the upgrade with close code
/// 1008, because browsers cannot read the status of a refused upgrade.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    owner: Owner,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    if let Err(origin) = security::check_origin(&headers, &state.settings.allowed_origins) {
        state.metrics.reject("origin");
        tracing::info!(%origin, "refused a WebSocket from a foreign origin");
        let body = json!({ "error": "origin_forbidden", "message": format!("origin {origin} is not allowed") });
        return (StatusCode::FORBIDDEN, Json(body)).into_response();
    }
    if state.shutdown.is_cancelled() {
        state.metrics.reject("shutting_down");
        return unavailable("the server is shutting down");
    }
    let Ok(slot) = state.connection_slots.clone().try_acquire_owned() else {
        state.metrics.reject("capacity");
        return unavailable("too many connections; try again later");
    };
    let authorized = security::authorized(state.settings.api_key.as_ref(), &headers, uri.query());
    let limit = state.settings.max_message_bytes;
    ws.protocols([SUBPROTOCOL])
        .max_message_size(limit)
        .max_frame_size(limit)
        // Small buffers keep idle connections cheap; they grow when a frame needs it.
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .on_failed_upgrade(|error| tracing::debug!(%error, "WebSocket upgrade failed"))
        .on_upgrade(move |socket| {
            let tracker = state.connections.clone();
            tracker.track_future(connection::run(socket, state, slot, authorized, owner))
        })
}

fn unavailable(message: &str) -> Response {
    let body = json!({ "error": "unavailable", "message": message });
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}
