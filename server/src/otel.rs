//! OpenTelemetry traces, off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: a `tracing` layer turns the agent's
//! trace spans (target [`TRACE_TARGET`]: one `invoke_agent` per turn, a `chat` per
//! model call, an `execute_tool` per tool call, see [`spans`]) into OpenTelemetry
//! spans, batched and exported over OTLP/HTTP (protobuf). Off, no layer is installed
//! and the trace spans are disabled at their call sites.
//!
//! Trace spans never reach the log lines (the log filter leaves their target out), so
//! they may carry what logs must not: the conversation id (`gen_ai.conversation.id`).
//! They carry no message text, tool arguments or results.

mod export;
pub mod propagation;
mod settings;
pub mod spans;

use std::path::Path;

use anyhow::Context;
use opentelemetry::{KeyValue, trace::TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
use tracing_subscriber::{
    Layer,
    filter::{LevelFilter, Targets},
};

pub use settings::OtelSettings;
pub use toolbox::telemetry::TRACE_TARGET;

/// The OpenTelemetry pipeline while traces are on. Call [`Tracing::shutdown`] before
/// exiting, so the last spans are sent.
pub struct Tracing {
    provider: SdkTracerProvider,
    /// Where spans go, without credentials or query (for the log).
    endpoint: String,
    service: String,
}

impl Tracing {
    /// Builds the exporter when an endpoint is set (and `OTEL_SDK_DISABLED` is not);
    /// `None` otherwise. Must run inside the Tokio runtime, on which exports are sent.
    /// `extra_roots` is `SSL_CERT_FILE`, trusted for an `https://` endpoint.
    pub fn start(
        settings: &OtelSettings,
        extra_roots: Option<&Path>,
    ) -> anyhow::Result<Option<Self>> {
        let Some(endpoint) = settings.traces_url() else {
            return Ok(None);
        };
        if settings.sdk_disabled {
            return Ok(None);
        }
        for (_, value) in settings.header_values() {
            toolbox::telemetry::redact(value);
        }
        let client = export::TokioHttpClient::new(&endpoint, settings.timeout, extra_roots)?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(endpoint.as_str())
            .with_timeout(settings.timeout)
            .with_headers(
                settings
                    .header_values()
                    .map(|(name, value)| (name.to_owned(), value.to_owned()))
                    .collect(),
            )
            .build()
            .context("OTEL_EXPORTER_OTLP_ENDPOINT: cannot set up the OTLP exporter")?;
        let mut attributes = vec![KeyValue::new("service.version", env!("CARGO_PKG_VERSION"))];
        attributes.extend(
            settings
                .resource_attributes()
                .map(|(key, value)| KeyValue::new(key.to_owned(), value.to_owned())),
        );
        let resource = Resource::builder_empty()
            .with_service_name(settings.service_name.clone())
            .with_attributes(attributes)
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        Ok(Some(Self {
            provider,
            endpoint: export::loggable(&endpoint),
            service: settings.service_name.clone(),
        }))
    }

    /// Says where traces go (once logging is set up).
    pub fn announce(&self) {
        tracing::info!(
            endpoint = %self.endpoint,
            service = %self.service,
            "exporting OpenTelemetry traces over OTLP/HTTP"
        );
    }

    /// The layer that records the trace spans, for the subscriber.
    pub fn layer(&self) -> toolbox::telemetry::TraceLayer {
        let tracer = self.provider.tracer("toolstream");
        Box::new(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_location(false)
                .with_threads(false)
                .with_target(false)
                .with_tracked_inactivity(false)
                .with_filter(Targets::new().with_target(TRACE_TARGET, LevelFilter::INFO)),
        )
    }

    /// Sends the spans still buffered and stops the exporter (waits at most the
    /// exporter's timeout).
    pub async fn shutdown(self) {
        let provider = self.provider;
        // Shutting down blocks until the last batch is sent, which runs on this
        // runtime: wait on a blocking thread, not on a runtime worker.
        let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        match done {
            Ok(Ok(())) => tracing::debug!("OpenTelemetry exporter stopped"),
            Ok(Err(error)) => tracing::warn!(%error, "OpenTelemetry exporter did not stop cleanly"),
            Err(error) => tracing::warn!(%error, "OpenTelemetry shutdown failed"),
        }
    }
}
