//! `GET /ws`: the WebSocket endpoint of the chat protocol.
//!
//! A *connection* is one socket; a *session* is one conversation, held by the
//! session hub and stored. A connection follows one session at a time; `resume`
//! moves it to another session of the same owner.

pub mod connection;
mod current;
mod outbound;
mod rate;
mod reader;
pub mod tools;
pub mod writer;

use axum::{
    Json,
    extract::{State, WebSocketUpgrade},
    http::{HeaderMap, HeaderValue, StatusCode, header::RETRY_AFTER},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{
    owner::Owner,
    security::{self, OriginPolicy},
    serve::Peer,
    state::AppState,
};

/// The subprotocol the server selects when a browser offers it (with `bearer.KEY`).
pub const SUBPROTOCOL: &str = "toolstream";

/// Checks the origin and capacity (the server's and the client address's), then
/// upgrades and hands the socket to a [`connection`]. An API key problem is reported
/// after the upgrade with close code 1008, because browsers cannot read the status of
/// a refused upgrade.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    peer: Peer,
    owner: Owner,
    headers: HeaderMap,
) -> Response {
    let origins = OriginPolicy {
        allowed: &state.settings.allowed_origins,
        public: state.settings.public_origin.as_deref(),
        hosts: &state.hosts,
    };
    if let Err(origin) = security::check_origin(&headers, &origins) {
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
    let client_ip = state.limits.client_ip(&headers, peer.or_unspecified());
    let client = match state.limits.connect(client_ip) {
        Ok(client) => client,
        Err(refused) => {
            state.metrics.reject("client_connections");
            let body = json!({ "error": "rate_limited", "message": format!("{refused}; close some and try again") });
            let retry = [(RETRY_AFTER, HeaderValue::from(refused.retry_after_secs()))];
            return (StatusCode::TOO_MANY_REQUESTS, retry, Json(body)).into_response();
        }
    };
    let authorized = security::authorized(state.settings.api_key.as_ref(), &headers);
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
            tracker.track_future(connection::run(
                socket, state, slot, client, authorized, owner,
            ))
        })
}

fn unavailable(message: &str) -> Response {
    let body = json!({ "error": "unavailable", "message": message });
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}
