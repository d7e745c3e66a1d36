//! The state shared by every request handler.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    agent::Agent, config::Settings, limits::ClientLimits, metrics::Metrics, security::HostPolicy,
    session::Hub, tools::Toolbox,
};

/// Cheap to clone: every field is a handle.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// Where the UI's files are and how to render them.
    pub leptos_options: LeptosOptions,
    /// The agent every session runs its turns on.
    pub agent: Arc<Agent>,
    /// The sessions (conversations) in use on this server, their store and bus.
    pub hub: Arc<Hub>,
    /// The MCP servers' tools (also the agent's): for `ready`, `tools_changed`, `/readyz`.
    pub toolbox: Arc<dyn Toolbox>,
    /// The settings the server started with.
    pub settings: Arc<Settings>,
    /// The server's metrics.
    pub metrics: Arc<Metrics>,
    /// Open WebSocket connections and REST turns, which axum does not wait for on
    /// shutdown.
    pub connections: TaskTracker,
    /// REST and SSE turns in flight; shutdown waits for them too.
    #[from_ref(skip)]
    pub turns: TaskTracker,
    /// Per-client-address limits on connections, frames and REST turns.
    pub limits: Arc<ClientLimits>,
    /// The host names the server answers for (`ALLOWED_HOSTS`).
    pub hosts: Arc<HostPolicy>,
    /// One permit per allowed WebSocket connection (`MAX_CONNECTIONS`).
    pub connection_slots: Arc<Semaphore>,
    /// Cancelled when shutdown begins: no new connections or turns; turns in flight
    /// may finish.
    pub shutdown: CancellationToken,
    /// Cancelled when the shutdown grace period is over: everything stops.
    #[from_ref(skip)]
    pub hard_stop: CancellationToken,
}
