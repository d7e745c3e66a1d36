//! The agent's tools: the [`Toolbox`] seam the agent depends on, and its MCP
//! implementation, [`McpToolbox`]: one client per configured MCP server (Streamable
//! HTTP over http or https, or a stdio child process), owned by a registry that names
//! the tools and routes each call to its server.
//!
//! Submodules, one concern each: `config` (what to connect), `expand` (`${VAR}`),
//! `policy` (approval), `naming` (collisions), `tls` (roots), `http` and `stdio`
//! (transports), `handler` (what servers notify: progress, list changes), `call` (one
//! tool call with progress and cancellation), `convert` (results), `client` (one
//! server, supervised), `registry` (all of them).

mod call;
mod client;
pub mod config;
pub mod convert;
pub mod expand;
mod handler;
mod http;
pub mod naming;
pub mod policy;
mod registry;
mod stdio;
pub mod tls;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use protocol::{Args, ContentItem};
use rmcp::model::JsonObject;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

pub use config::{McpConfig, ServerConfig, ServerTransport};
pub use policy::ApprovalPolicy;
pub use registry::{McpToolbox, ToolboxSettings};

/// What a server says about a tool's behaviour (MCP annotations; hints, not promises).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolHints {
    pub title: Option<String>,
    pub read_only: Option<bool>,
    pub destructive: Option<bool>,
    pub idempotent: Option<bool>,
    pub open_world: Option<bool>,
}

/// A tool the model may call now.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolInfo {
    /// The name the model and the events use: the server's own name for the tool, or
    /// `<server>__<tool>` when two servers offer that name.
    pub name: String,
    /// The server's name for the tool.
    pub remote_name: String,
    /// The configured name of the server that offers it.
    pub server: String,
    pub description: String,
    /// The input JSON Schema.
    pub input_schema: Arc<JsonObject>,
    /// The JSON Schema of its `structuredContent`, when it declares one.
    pub output_schema: Option<Arc<JsonObject>>,
    pub hints: ToolHints,
    /// Whether a call runs at once or asks the user first (`deny` tools are not listed).
    pub approval: ApprovalPolicy,
}

/// A progress report of a running call (MCP `notifications/progress`).
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub progress: f64,
    pub total: Option<f64>,
    pub message: Option<String>,
}

/// Where a call's progress reports go. Reports are dropped when it is full: progress
/// is advisory and must never slow the server down.
pub type ProgressSender = mpsc::Sender<Progress>;

/// What a tool call returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolOutput {
    /// Its text content (the error message when `is_error`).
    pub text: String,
    /// The tool (or the host, for an unknown tool) reported an error.
    pub is_error: bool,
    /// Its `structuredContent`, when it returned one.
    pub structured: Option<Value>,
    /// Images and resource links it returned besides text.
    pub content: Vec<ContentItem>,
}

impl ToolOutput {
    /// An error result the model reads (the tool was not run, or failed).
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            is_error: true,
            ..Self::default()
        }
    }
}

/// Why a call produced no result. The `Display` text is safe to show to users.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ToolError {
    #[error("the MCP server {server} is unavailable")]
    Unavailable {
        server: String,
        /// The server is required (see [`ServerConfig::required`]): the turn fails.
        /// Otherwise the model is told and the turn goes on.
        required: bool,
        /// What went wrong, for the log only.
        detail: String,
    },
    #[error("the tool {tool} did not answer within {} s", .timeout.as_secs_f32())]
    Timeout { tool: String, timeout: Duration },
    #[error("the tool call was cancelled")]
    Cancelled,
}

/// A server's state, as `/readyz` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerState {
    /// Connected, its tools listed.
    Ready,
    /// Connecting (or starting, for a stdio server).
    Connecting,
    /// Unreachable, or its process exited; retried with backoff.
    Down,
    /// `"disabled": true` in the configuration.
    Disabled,
}

/// One server's readiness.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerStatus {
    pub name: String,
    /// `http` or `stdio`.
    pub transport: &'static str,
    pub state: ServerState,
    pub required: bool,
    /// Tools it offers now.
    pub tools: usize,
    /// Why it is down, safe to show (no credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The tools the agent can use. The agent and its tests depend on this seam only.
#[async_trait]
pub trait Toolbox: Send + Sync + 'static {
    /// The tools available now.
    fn tools(&self) -> Arc<[ToolInfo]>;

    /// Follows the tool list: a new value each time it changes.
    fn watch(&self) -> watch::Receiver<Arc<[ToolInfo]>>;

    /// Waits (at most `max_wait`) for required servers that are still connecting, so
    /// that a client connecting just after start-up is offered their tools.
    async fn settle(&self, max_wait: Duration);

    /// The tools for a turn. Waits for required servers that are still connecting;
    /// fails when a required server is down.
    async fn tools_for_turn(&self) -> Result<Arc<[ToolInfo]>, ToolError>;

    /// Calls the tool the model knows as `tool`. Tool-level failures (bad arguments,
    /// an unknown tool) are outputs with `is_error`. Progress reports go to `progress`.
    /// When `cancel` fires, or the future is dropped, the server is sent
    /// `notifications/cancelled` and the call ends without waiting for it.
    async fn call(
        &self,
        tool: &str,
        args: &Args,
        progress: ProgressSender,
        cancel: &CancellationToken,
    ) -> Result<ToolOutput, ToolError>;

    /// Each server's state, after asking the ready ones whether they still answer.
    async fn status(&self, probe_timeout: Duration) -> Vec<ServerStatus>;

    /// Starts connecting to every enabled server (in the background).
    fn start(&self);

    /// Disconnects and stops every stdio server.
    async fn close(&self);
}
