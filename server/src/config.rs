//! The server's settings: one typed configuration, loaded once from command-line flags
//! and environment variables (flags win), documented by `--help`.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use clap::Parser;
use secrecy::SecretString;
use toolbox::telemetry::LogFormat;

/// toolstream: chat with an AI agent that uses MCP tools, streamed live.
#[derive(Debug, Clone, Parser)]
#[command(name = "server", version)]
pub struct Settings {
    /// Address to bind.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    pub host: IpAddr,

    /// Port to listen on (UI, /ws, /api, /health).
    #[arg(long, env = "PORT", default_value_t = 8000)]
    pub port: u16,

    /// The MCP toolbox to use, e.g. `http://mcp-server:8000` (`/mcp` is added when the
    /// URL has no path). Unset: the server runs the toolbox itself at `/mcp` on its own
    /// port and reaches it over HTTP.
    #[arg(long, env = "MCP_SERVER_URL", value_parser = parse_mcp_url, conflicts_with = "mcp_config")]
    pub mcp_server_url: Option<String>,

    /// An `mcp.json` naming the MCP servers to use (`{"mcpServers": {…}}`, as Claude
    /// Desktop, VS Code and Cursor write it; `${VAR}` expands from the environment).
    /// Replaces the single toolbox of `MCP_SERVER_URL` or the embedded one.
    #[arg(long, env = "MCP_CONFIG")]
    pub mcp_config: Option<PathBuf>,

    /// Extra CA certificates (a PEM file) trusted for `https://` MCP servers, besides
    /// the system's.
    #[arg(long, env = "SSL_CERT_FILE")]
    pub ssl_cert_file: Option<PathBuf>,

    /// The environment `${VAR}` in `MCP_CONFIG` expands from, and stdio servers inherit
    /// from. Unset (always, outside tests): the process environment, read once when
    /// the configuration loads.
    #[arg(skip)]
    pub mcp_env: Option<crate::tools::expand::Environment>,

    /// Log filter: a level (`info`, `debug`) or an `EnvFilter` directive.
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Log line format: `json` for containers, `pretty` for terminals.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t)]
    pub log_format: LogFormat,

    /// The most LLM calls one turn may make before it stops with an error.
    #[arg(long, env = "AGENT_MAX_ITERATIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_iterations: u32,

    /// Seconds one whole turn may take.
    #[arg(long, env = "TURN_TIMEOUT_SECS", default_value = "120", value_parser = parse_secs)]
    pub turn_timeout: Duration,

    /// Seconds one tool call may take.
    #[arg(long, env = "TOOL_TIMEOUT_SECS", default_value = "30", value_parser = parse_secs)]
    pub tool_timeout: Duration,

    /// Seconds a tool call waits for the user's approval before it is denied. The
    /// turn's own timeout stands still meanwhile.
    #[arg(long, env = "APPROVAL_TIMEOUT_SECS", default_value = "300", value_parser = parse_secs)]
    pub approval_timeout: Duration,

    /// Tool results longer than this many characters are cut, with a note saying so,
    /// before the model (and the client) sees them.
    #[arg(long, env = "MAX_TOOL_RESULT_CHARS", default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(100..))]
    pub max_tool_result_chars: u32,

    /// Largest WebSocket message accepted, in bytes.
    #[arg(long, env = "MAX_MESSAGE_BYTES", default_value_t = 64 * 1024)]
    pub max_message_bytes: usize,

    /// Longest user message accepted, in characters.
    #[arg(long, env = "MAX_CONTENT_CHARS", default_value_t = 4000)]
    pub max_content_chars: usize,

    /// Messages a connection may queue while one of its turns runs; more are refused.
    #[arg(long, env = "MAX_QUEUED_TURNS", default_value_t = 8)]
    pub max_queued_turns: usize,

    /// Open WebSocket connections allowed at once; more get 503.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Messages per second a connection may send on average (0: no limit).
    #[arg(long, env = "RATE_LIMIT_PER_SEC", default_value_t = 5.0)]
    pub rate_limit_per_sec: f64,

    /// Messages a connection may send in a burst before the rate limit applies.
    #[arg(long, env = "RATE_LIMIT_BURST", default_value_t = 20)]
    pub rate_limit_burst: u32,

    /// Seconds a chat session outlives its connection, so a reconnecting client can
    /// resume it (turns keep running meanwhile); after that its turn is cancelled.
    #[arg(long, env = "SESSION_GRACE_SECS", default_value = "30", value_parser = parse_secs_or_zero)]
    pub session_grace: Duration,

    /// Seconds shutdown waits for turns in flight before closing their connections.
    #[arg(long, env = "SHUTDOWN_GRACE_SECS", default_value = "30", value_parser = parse_secs_or_zero)]
    pub shutdown_grace: Duration,

    /// The public URL of this server as browsers see it, scheme and host only
    /// (`https://chat.example.com`). Its host is added to ALLOWED_HOSTS and its origin
    /// is accepted on /ws. Set it when the server is reached through a name other than
    /// localhost (behind an Ingress or a reverse proxy).
    #[arg(long, env = "PUBLIC_ORIGIN", value_parser = parse_origin)]
    pub public_origin: Option<String>,

    /// Host names this server answers for besides IP addresses and `localhost` (always
    /// accepted: a rebinding attack needs a name), comma-separated; other `Host`
    /// headers get 421 (DNS-rebinding guard). `name` matches any port, `name:port` one
    /// port, `.example.com` the domain and its subdomains, `*` any host.
    /// PUBLIC_ORIGIN's host is added.
    #[arg(long, env = "ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Browser origins allowed on /ws besides the server's own, comma-separated
    /// (`https://chat.example.com`). `null` is the origin of pages opened from disk and
    /// of sandboxed frames: list it only to use the original test page from a file.
    /// Clients that send no Origin (CLI tools, servers) are always allowed.
    #[arg(long, env = "ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Origins allowed to call /api from browsers (CORS), comma-separated; `*` for any.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub cors_allowed_origins: Vec<String>,

    /// When set, /ws, /api and the embedded toolbox's /mcp require this key:
    /// `Authorization: Bearer KEY`, `X-API-Key: KEY`, or (browsers) the WebSocket
    /// subprotocol `bearer.KEY`. Never in the URL.
    #[arg(long, env = "AGENT_API_KEY", value_parser = parse_secret, hide_env_values = true)]
    pub api_key: Option<SecretString>,

    /// Where conversations are stored: `sqlite://PATH` (created with its folder on
    /// first start), `postgres://USER:PASS@HOST/DB`, or `memory:` (nothing kept).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/toolstream.db",
        hide_env_values = true
    )]
    pub database_url: String,

    /// Redis shared by several servers (`redis://HOST:6379`): live events, turn
    /// leases and control messages. Unset: this server alone serves its sessions.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Days a conversation is kept after its last use; older ones are deleted.
    #[arg(long, env = "CONVERSATION_TTL_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub conversation_ttl_days: u32,

    /// Events stored per conversation; its oldest turns are deleted past it.
    #[arg(long, env = "MAX_STORED_EVENTS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..))]
    pub max_stored_events: u64,

    /// Sessions held in memory at once (those in their grace period included).
    #[arg(long, env = "MAX_SESSIONS", default_value_t = 10_000)]
    pub max_sessions: usize,

    /// Memory, in MiB, for sessions' histories and events not yet stored; past it
    /// idle sessions leave memory early and new ones are refused.
    #[arg(long, env = "SESSION_MEMORY_MB", default_value_t = 256)]
    pub session_memory_mb: usize,

    /// Seconds between WebSocket pings; a peer silent for two of them is gone.
    #[arg(long, env = "WS_PING_SECS", default_value = "20", value_parser = parse_secs)]
    pub ws_ping: Duration,

    /// Seconds a session's turn lease lasts without a heartbeat (with REDIS_URL):
    /// how soon a turn whose server died is reported `interrupted`.
    #[arg(long, env = "TURN_LEASE_SECS", default_value = "5", value_parser = parse_secs)]
    pub turn_lease: Duration,

    /// Largest REST request body, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Seconds a client may take to send a request's head (from its first byte, or from
    /// the connection's start); slower connections are closed.
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECS", default_value = "10", value_parser = parse_secs)]
    pub header_read_timeout: Duration,

    /// Seconds a keep-alive HTTP connection may wait for its next request before the
    /// server closes it. Keep it longer than a reverse proxy's upstream keep-alive
    /// (ingress-nginx: 60 s).
    #[arg(long, env = "HTTP_IDLE_TIMEOUT_SECS", default_value = "75", value_parser = parse_secs)]
    pub http_idle_timeout: Duration,

    /// HTTP connections served at once (a WebSocket leaves this count once upgraded;
    /// MAX_CONNECTIONS caps those). Further connections wait in the listen queue until
    /// one closes.
    #[arg(long, env = "MAX_HTTP_CONNECTIONS", default_value_t = 2048, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_http_connections: u32,

    /// The request header that carries the client's address when a reverse proxy is in
    /// front (`x-forwarded-for`, `x-real-ip`): its last address is used. Unset: the
    /// socket's peer address. Set it only behind a proxy that writes the header, or
    /// clients could pick their own address.
    #[arg(long, env = "TRUSTED_PROXY_HEADER", value_parser = parse_header_name)]
    pub trusted_proxy_header: Option<axum::http::HeaderName>,

    /// Open connections one client address may hold (WebSocket connections; without
    /// TRUSTED_PROXY_HEADER also HTTP connections). IPv6 clients count per /64.
    /// 0: no limit.
    #[arg(long, env = "MAX_CONNECTIONS_PER_CLIENT", default_value_t = 256)]
    pub max_connections_per_client: usize,

    /// WebSocket frames and REST turns per second one client address may send on
    /// average, across all its connections (0: no limit).
    #[arg(long, env = "CLIENT_RATE_LIMIT_PER_SEC", default_value_t = 20.0, value_parser = parse_rate)]
    pub client_rate_limit_per_sec: f64,

    /// WebSocket frames and REST turns one client address may send at once before
    /// CLIENT_RATE_LIMIT_PER_SEC applies.
    #[arg(long, env = "CLIENT_RATE_LIMIT_BURST", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub client_rate_limit_burst: u32,

    /// REST turns (`/api/chat`, `/api/chat/stream`) one client address may run at
    /// once; more get 429 (0: no limit).
    #[arg(long, env = "MAX_API_TURNS_PER_CLIENT", default_value_t = 4)]
    pub max_api_turns_per_client: usize,

    /// Turns running at once in this process, on every transport (LLM spend); more get
    /// `busy` (WebSocket) or 503 (REST).
    #[arg(long, env = "MAX_CONCURRENT_TURNS", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_turns: u32,

    /// Largest conversation history sent to the model, in bytes of text: the oldest
    /// turns are left out first, whole.
    #[arg(long, env = "MAX_HISTORY_BYTES", default_value_t = 64 * 1024)]
    pub max_history_bytes: usize,

    /// Longest answer one model call may give, in characters; a longer one is cut,
    /// with a note saying so, and the model call is stopped.
    #[arg(long, env = "MAX_ANSWER_CHARS", default_value_t = 16_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_answer_chars: u32,

    /// Largest Server-Sent Event of `/api/chat/stream`, in bytes; longer texts in an
    /// event are cut, with a note saying so.
    #[arg(long, env = "MAX_SSE_EVENT_BYTES", default_value_t = 256 * 1024, value_parser = clap::value_parser!(u32).range(1024..))]
    pub max_sse_event_bytes: u32,

    #[command(flatten)]
    pub llm: crate::llm::LlmSettings,

    #[command(flatten)]
    pub otel: crate::otel::OtelSettings,

    /// Check that the server on PORT is healthy, exit 0 or 1 (for container HEALTHCHECK).
    #[arg(long)]
    pub healthcheck: bool,
}

impl Settings {
    /// Defaults for tests and embedding: loopback, a free port, the embedded toolbox.
    /// The caller's environment is ignored (no `PORT` or `AGENT_API_KEY` leaks in).
    /// Every test client shares one address (loopback), so the per-client limits are
    /// off; tests of those limits turn them on.
    pub fn for_tests() -> Self {
        use clap::{CommandFactory, FromArgMatches};
        let command = Self::command().mut_args(|arg| arg.env(None));
        let matches = command.get_matches_from(["server"]);
        let mut settings = match Self::from_arg_matches(&matches) {
            Ok(settings) => settings,
            Err(error) => error.exit(),
        };
        settings.host = IpAddr::from([127, 0, 0, 1]);
        settings.port = 0;
        settings.mcp_server_url = None;
        settings.database_url = "memory:".into();
        settings.redis_url = None;
        settings.max_connections_per_client = 0;
        settings.client_rate_limit_per_sec = 0.0;
        settings.max_api_turns_per_client = 0;
        settings
    }
}

/// Parses seconds, fractions allowed (`0.5`).
pub fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if secs.is_finite() && secs > 0.0 && secs < 1e9 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(format!("{text:?} must be a positive number of seconds"))
    }
}

/// Parses seconds where zero is meaningful ("no grace").
pub fn parse_secs_or_zero(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<f64>() {
        Ok(0.0) => Ok(Duration::ZERO),
        _ => parse_secs(text),
    }
}

/// Parses a rate per second: zero (no limit) or a positive finite number.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate >= 0.0 => Ok(rate),
        _ => Err(format!("{text:?} must be zero or a positive number")),
    }
}

/// Accepts `http(s)://host[:port]`, nothing after it; returns it without a trailing `/`.
pub fn parse_origin(text: &str) -> Result<String, String> {
    let url =
        reqwest::Url::parse(text.trim()).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty();
    if !plain {
        return Err(format!(
            "{text:?} must be a scheme and host only, like https://chat.example.com"
        ));
    }
    Ok(url.origin().ascii_serialization())
}

/// A header name such as `x-forwarded-for`.
pub fn parse_header_name(text: &str) -> Result<axum::http::HeaderName, String> {
    axum::http::HeaderName::from_bytes(text.trim().as_bytes())
        .map_err(|_| format!("{text:?} is not a header name"))
}

/// Wraps a secret so that it is never printed, not even by `Debug`.
pub fn parse_secret(text: &str) -> Result<SecretString, String> {
    if text.trim().is_empty() {
        return Err("must not be empty".into());
    }
    Ok(SecretString::from(text.to_owned()))
}

/// Accepts `http(s)://host[:port][/path]`; an empty path becomes `/mcp`.
pub fn parse_mcp_url(text: &str) -> Result<String, String> {
    let url =
        reqwest::Url::parse(text.trim()).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "{text:?} must be an http:// or https:// URL with a host"
        ));
    }
    let mut url = url;
    if url.path().is_empty() || url.path() == "/" {
        url.set_path("/mcp");
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests;
