//! Logging setup shared by the toolbox and server binaries, with a last line of
//! defence for secrets: values registered with [`redact`] are replaced in every log
//! line, whoever wrote it (libraries such as rmcp log errors that quote URLs).
//!
//! A binary may add a [`TraceLayer`] (the server's OpenTelemetry export). Spans with
//! the target [`TRACE_TARGET`] are for that layer alone: log lines never show them,
//! so they may carry identifiers logs must not.

use std::{
    io::{self, Write},
    sync::RwLock,
};

use tracing_subscriber::{
    EnvFilter, Layer, Registry,
    filter::{FilterExt, LevelFilter, Targets},
    fmt,
    fmt::MakeWriter,
    prelude::*,
};

/// The target of spans meant for traces only, never for log lines.
pub const TRACE_TARGET: &str = "gen_ai";

/// A layer that receives spans besides the log lines, with its own filter.
pub type TraceLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Values never to appear in logs.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Shortest value [`redact`] accepts: shorter ones would blank ordinary words.
const MIN_SECRET_LEN: usize = 6;

/// Keeps `secret` out of every log line from now on (it becomes `[redacted]`).
pub fn redact(secret: &str) {
    if secret.len() < MIN_SECRET_LEN {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|p| p.into_inner());
    if !secrets.iter().any(|s| s == secret) {
        secrets.push(secret.to_owned());
    }
}

/// `line` with every registered secret replaced.
fn scrub(line: &[u8]) -> Option<Vec<u8>> {
    let secrets = SECRETS.read().unwrap_or_else(|p| p.into_inner());
    if secrets.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(line);
    if !secrets.iter().any(|s| text.contains(s.as_str())) {
        return None;
    }
    let mut text = text.into_owned();
    for secret in secrets.iter() {
        text = text.replace(secret.as_str(), "[redacted]");
    }
    Some(text.into_bytes())
}

/// Standard output, scrubbed of secrets (the formatter writes one line per call).
struct Redacting;

struct RedactingWriter(io::Stdout);

impl<'a> MakeWriter<'a> for Redacting {
    type Writer = RedactingWriter;
    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter(io::stdout())
    }
}

impl Write for RedactingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match scrub(buf) {
            Some(clean) => self.0.write_all(&clean).map(|()| buf.len()),
            None => self.0.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for containers and log shippers.
    Json,
    /// Human-readable lines, for terminals.
    #[default]
    Pretty,
}

/// Installs the global subscriber. `level` is an `EnvFilter` directive such as `info`
/// or `server=debug,tower_http=info`; `RUST_LOG`, when set, takes precedence.
pub fn init(level: &str, format: LogFormat) -> anyhow::Result<()> {
    init_with(level, format, None)
}

/// [`init`], with `traces` receiving spans too (filtered by its own filter, so
/// `LOG_LEVEL` does not thin the traces out). Without it, nothing but the log lines
/// is installed.
pub fn init_with(level: &str, format: LogFormat, traces: Option<TraceLayer>) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::try_new(directives)?,
        _ => EnvFilter::try_new(directives(level))
            .map_err(|err| anyhow::anyhow!("invalid LOG_LEVEL {level:?}: {err}"))?,
    };
    let logs = filter.and(no_trace_spans());
    let registry = tracing_subscriber::registry().with(traces);
    match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(Redacting)
                    .with_filter(logs),
            )
            .try_init()?,
        LogFormat::Pretty => registry
            .with(
                fmt::layer()
                    .compact()
                    .with_writer(Redacting)
                    .with_filter(logs),
            )
            .try_init()?,
    }
    Ok(())
}

/// Everything but the trace-only spans.
fn no_trace_spans() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target(TRACE_TARGET, LevelFilter::OFF)
}

/// The filter for a `LOG_LEVEL`. A bare `info` keeps rmcp at `warn`: with stateless
/// MCP it logs three lines per tool call (a service set up and torn down per request),
/// which would drown the lines that matter. `debug`, `trace` and full directives are
/// taken as given.
fn directives(level: &str) -> String {
    let level = level.trim().to_ascii_lowercase();
    if level == "info" {
        "info,rmcp=warn".into()
    } else {
        level
    }
}

#[cfg(test)]
mod tests {
    use super::{directives, redact, scrub};

    #[test]
    fn registered_secrets_are_scrubbed_from_log_lines() {
        assert_eq!(scrub(b"nothing registered yet matches"), None);
        redact("s3cr3t-token");
        redact("abc"); // too short to be told from ordinary text
        let line = br#"{"message":"GET http://h/mcp?key=s3cr3t-token failed","x":"abc"}"#;
        let clean = String::from_utf8(scrub(line).unwrap()).unwrap();
        assert_eq!(
            clean,
            r#"{"message":"GET http://h/mcp?key=[redacted] failed","x":"abc"}"#
        );
        assert_eq!(scrub(b"a line without it"), None);
    }

    #[test]
    fn a_bare_info_level_quiets_rmcp_and_everything_else_is_taken_as_given() {
        assert_eq!(directives("INFO"), "info,rmcp=warn");
        assert_eq!(directives("debug"), "debug");
        assert_eq!(directives("warn"), "warn");
        assert_eq!(directives("info,rmcp=info"), "info,rmcp=info");
    }
}
