//! The agent's MCP client: one shared connection to the toolbox over Streamable HTTP,
//! the tool list fetched once per connection, and reconnection with backoff when the
//! toolbox goes away.

use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use protocol::Args;
use rmcp::{
    model::{
        CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation, ProtocolVersion,
    },
    service::{ClientLifecycleMode, ClientServiceExt, RoleClient, RunningService, ServiceError},
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};

use crate::llm::ToolSpec;

/// The first delay before reconnecting after a failure; it doubles up to `MAX_BACKOFF`.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Why a tool could not be reached. The `Display` text is safe to show to users.
#[derive(Debug, Clone, thiserror::Error)]
pub enum McpError {
    #[error("the toolbox is unavailable")]
    Unavailable(
        /// What went wrong, for the log only.
        String,
    ),
    #[error("the tool {tool} did not answer within {} s", .timeout.as_secs_f32())]
    Timeout { tool: String, timeout: Duration },
}

/// What a tool call returned.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// The text content of the result, or the error message.
    pub text: String,
    /// The tool (or the toolbox, for an unknown tool) reported an error.
    pub is_error: bool,
}

/// Settings of the MCP client.
#[derive(Debug, Clone)]
pub struct McpSettings {
    /// The toolbox endpoint, e.g. `http://mcp-server:8000/mcp`.
    pub url: String,
    /// How long one tool call may take.
    pub call_timeout: Duration,
    /// How long connecting and listing tools may take.
    pub connect_timeout: Duration,
    /// How many tool calls may be in flight at once on the shared connection.
    pub max_concurrent_calls: usize,
    /// Sent as `Authorization: Bearer KEY` with every request: the server's API key,
    /// for its own embedded toolbox only (never for a toolbox elsewhere).
    pub api_key: Option<secrecy::SecretString>,
}

/// A cheap-to-clone handle on the shared MCP connection.
#[derive(Clone)]
pub struct McpClient {
    inner: Arc<Inner>,
}

struct Inner {
    settings: McpSettings,
    http: reqwest::Client,
    current: RwLock<Option<Arc<Connection>>>,
    /// Serialises reconnection attempts and holds the backoff state.
    reconnect: tokio::sync::Mutex<Backoff>,
}

struct Connection {
    service: RunningService<RoleClient, ClientConfig>,
    tools: Arc<[ToolSpec]>,
}

#[derive(Default)]
struct Backoff {
    not_before: Option<Instant>,
    delay: Option<Duration>,
}

impl McpClient {
    /// Creates the client. Nothing connects until the first use.
    pub fn new(settings: McpSettings) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        let bearer = settings.api_key.as_ref().and_then(|key| {
            use secrecy::ExposeSecret;
            reqwest::header::HeaderValue::from_str(&format!("Bearer {}", key.expose_secret())).ok()
        });
        if let Some(mut bearer) = bearer {
            bearer.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, bearer);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        Self {
            inner: Arc::new(Inner {
                settings,
                http,
                current: RwLock::new(None),
                reconnect: tokio::sync::Mutex::new(Backoff::default()),
            }),
        }
    }

    /// The toolbox endpoint.
    pub fn url(&self) -> &str {
        &self.inner.settings.url
    }

    /// The toolbox's tools, listed once per connection.
    pub async fn tools(&self) -> Result<Arc<[ToolSpec]>, McpError> {
        Ok(self.connection().await?.tools.clone())
    }

    /// Calls a tool. Tool-level failures (bad arguments, division by zero, unknown
    /// tool) come back as an output with `is_error`; only an unreachable or silent
    /// toolbox is an `Err`.
    pub async fn call(&self, tool: &str, args: &Args) -> Result<ToolOutput, McpError> {
        let connection = self.connection().await?;
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(args.clone());
        let timeout = self.inner.settings.call_timeout;
        match tokio::time::timeout(timeout, connection.service.call_tool(params)).await {
            Err(_) => Err(McpError::Timeout {
                tool: tool.to_owned(),
                timeout,
            }),
            Ok(Ok(result)) => Ok(ToolOutput {
                text: result
                    .content
                    .iter()
                    .filter_map(|block| block.as_text().map(|t| t.text.as_str()))
                    .collect::<Vec<_>>()
                    .join("\n"),
                is_error: result.is_error == Some(true),
            }),
            Ok(Err(ServiceError::McpError(error))) => Ok(ToolOutput {
                text: error.message.into_owned(),
                is_error: true,
            }),
            Ok(Err(error)) => {
                self.discard(&connection);
                Err(McpError::Unavailable(error.to_string()))
            }
        }
    }

    /// Checks that the toolbox answers now, with a `tools/list` on the shared
    /// connection (connecting first if needed; `ping` is gone from the 2026-07-28
    /// revision); a failure drops the connection. Returns how many tools it offers.
    pub async fn probe(&self, timeout: Duration) -> Result<usize, McpError> {
        let connection = self.connection().await?;
        match tokio::time::timeout(timeout, connection.service.list_tools(None)).await {
            Ok(Ok(listed)) => Ok(listed.tools.len()),
            // An MCP-level error still means the toolbox is there and answering.
            Ok(Err(ServiceError::McpError(_))) => Ok(connection.tools.len()),
            Ok(Err(error)) => {
                self.discard(&connection);
                Err(McpError::Unavailable(error.to_string()))
            }
            Err(_) => {
                self.discard(&connection);
                Err(McpError::Unavailable("ping timed out".into()))
            }
        }
    }

    /// Closes the connection, if any.
    pub async fn close(&self) {
        let current = self.write_current().take();
        if let Some(connection) = current {
            connection.service.cancellation_token().cancel();
        }
    }

    async fn connection(&self) -> Result<Arc<Connection>, McpError> {
        if let Some(connection) = self.live() {
            return Ok(connection);
        }
        let mut backoff = self.inner.reconnect.lock().await;
        // Another task may have connected while this one waited for the lock.
        if let Some(connection) = self.live() {
            return Ok(connection);
        }
        if let Some(not_before) = backoff.not_before
            && Instant::now() < not_before
        {
            return Err(McpError::Unavailable(
                "reconnection backoff in progress".into(),
            ));
        }
        // Boxed: connecting is rare and its future is large; inline, it would sit in
        // every future that may connect (each idle WebSocket session among them).
        let connect = Box::pin(self.connect());
        match tokio::time::timeout(self.inner.settings.connect_timeout, connect).await {
            Ok(Ok(connection)) => {
                let connection = Arc::new(connection);
                *self.write_current() = Some(connection.clone());
                *backoff = Backoff::default();
                tracing::info!(url = %self.url(), tools = connection.tools.len(), "connected to the MCP toolbox");
                Ok(connection)
            }
            outcome => {
                let reason = match outcome {
                    Ok(Err(reason)) => reason,
                    _ => "timed out".to_owned(),
                };
                let delay = backoff
                    .delay
                    .map_or(MIN_BACKOFF, |d| (d * 2).min(MAX_BACKOFF));
                *backoff = Backoff {
                    not_before: Some(Instant::now() + delay),
                    delay: Some(delay),
                };
                tracing::warn!(url = %self.url(), %reason, retry_in_ms = delay.as_millis() as u64, "cannot reach the MCP toolbox");
                Err(McpError::Unavailable(reason))
            }
        }
    }

    async fn connect(&self) -> Result<Connection, String> {
        let settings = &self.inner.settings;
        let config = StreamableHttpClientTransportConfig::with_uri(settings.url.as_str())
            .max_concurrent_requests(settings.max_concurrent_calls);
        let transport =
            || StreamableHttpClientTransport::with_client(self.inner.http.clone(), config.clone());
        let info = ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("toolstream-agent", env!("CARGO_PKG_VERSION")),
        );
        // Prefer the stateless 2026-07-28 protocol (no session, plain JSON answers);
        // rmcp falls back to a 2025-11-25 session when the toolbox has no
        // `server/discover`. A toolbox that has it but refuses 2026-07-28 gets a plain
        // `initialize` as a second try.
        let auto = ClientLifecycleMode::Auto {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            legacy_version: Some(ProtocolVersion::V_2025_11_25),
        };
        let service = match info.clone().serve_with_lifecycle(transport(), auto).await {
            Ok(service) => service,
            Err(first) => info
                .serve_with_lifecycle(transport(), ClientLifecycleMode::Initialize)
                .await
                .map_err(|_| first.to_string())?,
        };
        let listed = match service.list_all_tools().await {
            Ok(listed) => listed,
            Err(error) => {
                service.cancellation_token().cancel();
                return Err(error.to_string());
            }
        };
        let tools = listed
            .into_iter()
            .map(|tool| ToolSpec {
                name: tool.name.into_owned(),
                description: tool.description.map(|d| d.into_owned()).unwrap_or_default(),
                input_schema: tool.input_schema,
            })
            .collect();
        Ok(Connection { service, tools })
    }

    /// The current connection, unless its service has stopped.
    fn live(&self) -> Option<Arc<Connection>> {
        let current = self
            .inner
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        current.as_ref().filter(|c| !c.service.is_closed()).cloned()
    }

    /// Drops `connection` so the next call reconnects, unless it was already replaced.
    fn discard(&self, connection: &Arc<Connection>) {
        let mut current = self.write_current();
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, connection)) {
            *current = None;
            connection.service.cancellation_token().cancel();
            tracing::warn!(url = %self.url(), "lost the MCP toolbox connection; will reconnect");
        }
    }

    fn write_current(&self) -> std::sync::RwLockWriteGuard<'_, Option<Arc<Connection>>> {
        // The lock guards a plain Option swap; a panic elsewhere cannot leave it torn.
        self.inner
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
