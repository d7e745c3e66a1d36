//! The `server` binary: loads settings, sets up logging (and OpenTelemetry traces when
//! an OTLP endpoint is set), runs until SIGTERM or Ctrl-C.

use clap::Parser;
use server::{Application, Settings, otel::Tracing};
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
    let tracing = Tracing::start(&settings.otel, settings.ssl_cert_file.as_deref())?;
    telemetry::init_with(
        &settings.log_level,
        settings.log_format,
        tracing.as_ref().map(Tracing::layer),
    )?;
    if let Some(tracing) = &tracing {
        tracing.announce();
    }
    let application = Application::build(settings).await?;
    let outcome = application.run_until_stopped(shutdown_signal()).await;
    if let Some(tracing) = tracing {
        tracing.shutdown().await;
    }
    outcome
}
