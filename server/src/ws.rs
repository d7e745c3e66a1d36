//! `GET /ws`: the WebSocket endpoint of the chat protocol.

pub mod session;

use axum::{
    extract::{State, WebSocketUpgrade},
    response::Response,
};

use crate::state::AppState;

/// Upgrades the connection and hands it to a [`session`].
pub async fn upgrade(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    let limit = state.settings.max_message_bytes;
    let sessions = state.sessions.clone();
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .on_failed_upgrade(|error| tracing::debug!(%error, "WebSocket upgrade failed"))
        .on_upgrade(move |socket| sessions.track_future(session::run(socket, state)))
}
