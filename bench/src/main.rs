//! `loadgen`: the load generator of toolstream's benchmark.
//!
//! Every scenario drives real traffic on loopback and prints one JSON line of results,
//! which `scripts/bench.sh` turns into the table of `BENCHMARKS.md`:
//!
//! - `turns`: N WebSocket clients × M turns each, every turn's events validated;
//! - `idle`: N open, idle WebSocket connections, to measure the server's memory per
//!   connection;
//! - `echo-server` / `echo`: a bare axum WebSocket echo server and its client, the
//!   physical limit one turn is compared with;
//! - `mcp`: `tools/call` requests straight to the toolbox (stateless MCP 2026-07-28);
//! - `rest`: `POST /api/chat` requests.

mod echo;
mod mcp;
mod rest;
mod stats;
mod turns;

use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(about = "toolstream load generator")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// WebSocket clients running agent turns.
    Turns(turns::Options),
    /// Idle WebSocket connections, for memory per connection.
    Idle(turns::IdleOptions),
    /// A bare WebSocket echo server (the baseline's other end).
    EchoServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
    },
    /// Round trips against the echo server.
    Echo(echo::Options),
    /// `tools/call` requests to the toolbox.
    Mcp(mcp::Options),
    /// `POST /api/chat` requests.
    Rest(rest::Options),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // reqwest is built without a TLS provider of its own when the server (which picks
    // ring) is built alongside; name it here too, or building a client panics.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        match cli.scenario {
            Scenario::Turns(options) => turns::run(options).await,
            Scenario::Idle(options) => turns::idle(options).await,
            Scenario::EchoServer { listen } => echo::serve(&listen).await,
            Scenario::Echo(options) => echo::run(options).await,
            Scenario::Mcp(options) => mcp::run(options).await,
            Scenario::Rest(options) => rest::run(options).await,
        }
    })?;
    // The one line of output scripts read.
    #[allow(clippy::print_stdout)]
    {
        println!("{report}");
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

/// Resident memory of a process, from `/proc`, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}
