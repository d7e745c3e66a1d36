//! The server's settings: one typed configuration, loaded once from command-line flags
//! and environment variables (flags win), documented by `--help`.

use std::{net::IpAddr, time::Duration};

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
    #[arg(long, env = "MCP_SERVER_URL", value_parser = parse_mcp_url)]
    pub mcp_server_url: Option<String>,

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

    /// Browser origins allowed on /ws besides the server's own, comma-separated
    /// (`https://chat.example.com`). `null` is the origin of pages opened from disk,
    /// such as the original test page; clients that send no Origin are always allowed.
    #[arg(
        long,
        env = "ALLOWED_ORIGINS",
        value_delimiter = ',',
        default_value = "null"
    )]
    pub allowed_origins: Vec<String>,

    /// Origins allowed to call /api from browsers (CORS), comma-separated; `*` for any.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub cors_allowed_origins: Vec<String>,

    /// When set, /ws and /api require this key: `Authorization: Bearer KEY`, the
    /// `token` query parameter, or the WebSocket subprotocol `bearer.KEY`.
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

    #[command(flatten)]
    pub llm: crate::llm::LlmSettings,

    /// Check that the server on PORT is healthy, exit 0 or 1 (for container HEALTHCHECK).
    #[arg(long)]
    pub healthcheck: bool,
}

impl Settings {
    /// Defaults for tests and embedding: loopback, a free port, the embedded toolbox.
    pub fn for_tests() -> Self {
        let mut settings = Self::parse_from(["server"]);
        settings.host = IpAddr::from([127, 0, 0, 1]);
        settings.port = 0;
        settings.mcp_server_url = None;
        settings.database_url = "memory:".into();
        settings.redis_url = None;
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
mod tests {
    use super::*;

    #[test]
    fn mcp_urls_get_their_path() {
        assert_eq!(
            parse_mcp_url("http://mcp-server:8000").unwrap(),
            "http://mcp-server:8000/mcp"
        );
        assert_eq!(
            parse_mcp_url("http://h:1/custom").unwrap(),
            "http://h:1/custom"
        );
        assert!(parse_mcp_url("mcp-server:8000").is_err());
        assert!(parse_mcp_url("ftp://x").is_err());
    }

    #[test]
    fn secrets_never_print() {
        let settings = Settings::try_parse_from(["server", "--api-key", "hunter2-secret"]).unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = Settings::try_parse_from(["server", "--port", "99999"]).unwrap_err();
        assert!(err.to_string().contains("--port"), "{err}");
        let err = Settings::try_parse_from(["server", "--tool-timeout", "soon"]).unwrap_err();
        assert!(err.to_string().contains("--tool-timeout"), "{err}");
    }
}
