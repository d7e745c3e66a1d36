//! The `toolbox` binary: the MCP toolbox as a standalone service.

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use axum::serve::ListenerExt;
use clap::Parser;
use tokio_util::sync::CancellationToken;
use toolbox::{AccessPolicy, DEFAULT_ALLOWED_HOSTS, signal::shutdown_signal, telemetry};

/// The toolstream MCP toolbox: arithmetic tools over MCP Streamable HTTP at /mcp.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 8000)]
    port: u16,
    /// Address to bind.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    host: IpAddr,
    /// Comma-separated Host header values accepted on /mcp (DNS-rebinding guard);
    /// add the name clients use, e.g. `mcp-server`. `*` accepts any host.
    #[arg(long, env = "MCP_ALLOWED_HOSTS", value_delimiter = ',', default_value = DEFAULT_ALLOWED_HOSTS)]
    allowed_hosts: Vec<String>,
    /// Comma-separated browser Origins accepted on /mcp; requests without an Origin
    /// always pass, any other Origin is refused.
    #[arg(long, env = "MCP_ALLOWED_ORIGINS", value_delimiter = ',')]
    allowed_origins: Vec<String>,
    /// Log filter: a level (`info`, `debug`) or an `EnvFilter` directive.
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    log_level: String,
    /// Log line format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t)]
    log_format: telemetry::LogFormat,
    /// Check that the toolbox on PORT is healthy, exit 0 or 1 (for container HEALTHCHECK).
    #[arg(long)]
    healthcheck: bool,
}

/// mimalloc: the agent and the toolbox allocate many small, short-lived objects per
/// request, which it serves markedly faster than the system allocator (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.healthcheck {
        toolbox::probe::healthcheck_and_exit(cli.port);
    }
    telemetry::init(&cli.log_level, cli.log_format)?;

    let policy = AccessPolicy {
        allowed_hosts: cli
            .allowed_hosts
            .into_iter()
            .filter(|h| !h.is_empty())
            .collect(),
        allowed_origins: cli
            .allowed_origins
            .into_iter()
            .filter(|o| !o.is_empty())
            .collect(),
    };
    let shutdown = CancellationToken::new();
    let app = toolbox::router(&policy, shutdown.clone());

    let addr = SocketAddr::new(cli.host, cli.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?
        .tap_io(|tcp| {
            // Small request/response exchanges: Nagle's delay would dominate latency.
            let _ = tcp.set_nodelay(true);
        });
    tracing::info!(%addr, allowed_hosts = ?policy.allowed_hosts, "toolbox listening on /mcp");

    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            shutdown.cancel();
        })
        .await
        .context("server error")?;
    tracing::info!("toolbox stopped");
    Ok(())
}
