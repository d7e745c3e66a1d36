//! The state shared by every request handler.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{agent::Agent, config::Settings};

/// Cheap to clone: every field is a handle.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// Where the UI's files are and how to render them.
    pub leptos_options: LeptosOptions,
    /// The agent every transport (WebSocket, REST) runs turns on.
    pub agent: Arc<Agent>,
    /// The settings the server started with.
    pub settings: Arc<Settings>,
    /// Cancelled when the server shuts down; sessions and turns take child tokens.
    pub shutdown: CancellationToken,
    /// Tracks WebSocket sessions, which axum does not wait for on shutdown.
    pub sessions: TaskTracker,
}
