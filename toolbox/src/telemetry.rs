//! Logging setup shared by the toolbox and server binaries.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

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
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::try_new(directives)?,
        _ => EnvFilter::try_new(directives(level))
            .map_err(|err| anyhow::anyhow!("invalid LOG_LEVEL {level:?}: {err}"))?,
    };
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            )
            .try_init()?,
        LogFormat::Pretty => registry.with(fmt::layer().compact()).try_init()?,
    }
    Ok(())
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
    use super::directives;

    #[test]
    fn a_bare_info_level_quiets_rmcp_and_everything_else_is_taken_as_given() {
        assert_eq!(directives("INFO"), "info,rmcp=warn");
        assert_eq!(directives("debug"), "debug");
        assert_eq!(directives("warn"), "warn");
        assert_eq!(directives("info,rmcp=info"), "info,rmcp=info");
    }
}
