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
    fn mcp_settings_parse_and_the_two_toolbox_sources_exclude_each_other() {
        let settings = Settings::try_parse_from([
            "server",
            "--mcp-config",
            "/etc/toolstream/mcp.json",
            "--approval-timeout",
            "2.5",
        ])
        .unwrap();
        assert_eq!(settings.approval_timeout, Duration::from_millis(2500));
        assert_eq!(settings.max_tool_result_chars, 20_000);
        let err = Settings::try_parse_from([
            "server",
            "--mcp-config",
            "a.json",
            "--mcp-server-url",
            "http://h:1",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("--mcp-config"), "{err}");
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = Settings::try_parse_from(["server", "--port", "99999"]).unwrap_err();
        assert!(err.to_string().contains("--port"), "{err}");
        let err = Settings::try_parse_from(["server", "--tool-timeout", "soon"]).unwrap_err();
        assert!(err.to_string().contains("--tool-timeout"), "{err}");
    }
}
