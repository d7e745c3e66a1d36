//! The `server` binary: loads settings, sets up logging, runs until SIGTERM or Ctrl-C.

use clap::Parser;
use server::{Application, Settings};
use toolbox::{signal::shutdown_signal, telemetry};

/// mimalloc: the agent and the toolbox allocate many small, short-lived objects per
/// request, which it serves markedly faster than the system allocator (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    if settings.healthcheck {
        toolbox::probe::healthcheck_and_exit(settings.port);
    }
    telemetry::init(&settings.log_level, settings.log_format)?;
    let application = Application::build(settings).await?;
    application.run_until_stopped(shutdown_signal()).await
}
