//! The HTTP client the OTLP exporter posts spans with: the server's own reqwest
//! (rustls on ring), its requests run on the server's Tokio runtime.
//!
//! The SDK's batch processor exports from a thread of its own and blocks on each
//! export; a Tokio-based client awaited there would find no runtime. So each request
//! is spawned on the runtime captured at start-up, and the processor's thread only
//! waits for its result.

use std::{path::Path, time::Duration};

use anyhow::Context;
use async_trait::async_trait;
use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError};

/// The most of a collector's answer that is read (it is a short protobuf message).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct TokioHttpClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl TokioHttpClient {
    /// A client for `endpoint`; an `https://` one trusts the system's CA certificates
    /// and those of `extra_roots`. Must be called inside the runtime.
    pub fn new(
        endpoint: &str,
        timeout: Duration,
        extra_roots: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let tls = if endpoint.starts_with("https://") {
            crate::tools::tls::client_config(extra_roots)
                .context("OTEL_EXPORTER_OTLP_ENDPOINT is https:// but no CA certificates load")?
        } else {
            crate::tools::tls::install_crypto_provider();
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .context("TLS setup failed")?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
        };
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(timeout)
            // Headers may hold an API key: never follow a redirect elsewhere with them.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot build the OTLP HTTP client")?;
        let runtime = tokio::runtime::Handle::try_current()
            .context("the OTLP exporter must start inside the Tokio runtime")?;
        Ok(Self { client, runtime })
    }
}

#[async_trait]
impl HttpClient for TokioHttpClient {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let sent = self.runtime.spawn(async move {
            let request = reqwest::Request::try_from(request)?;
            let mut response = client.execute(request).await?;
            let mut answer = http::Response::builder().status(response.status());
            if let Some(headers) = answer.headers_mut() {
                *headers = std::mem::take(response.headers_mut());
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                let room = MAX_RESPONSE_BYTES.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok::<_, HttpError>(answer.body(Bytes::from(body))?)
        });
        sent.await?
    }
}

/// `url` without credentials or query, for the log.
pub fn loggable(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.to_string()
        }
        Err(_) => "(invalid URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::loggable;

    #[test]
    fn logged_endpoints_lose_credentials_and_query() {
        assert_eq!(
            loggable("https://user:pw@collector:4318/v1/traces?key=s3cret"),
            "https://collector:4318/v1/traces"
        );
    }
}
