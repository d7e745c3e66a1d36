//! The Streamable HTTP transport to one server: a reqwest client with our TLS roots
//! and the server's configured headers (marked sensitive, so never printed).

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use rmcp::transport::{
    StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
};
use secrecy::{ExposeSecret, SecretString};

/// How many calls may be in flight at once on one server's connection.
const MAX_CONCURRENT_REQUESTS: usize = 1024;

/// A ready-to-use HTTP client for one server.
#[derive(Clone)]
pub struct HttpTarget {
    client: reqwest::Client,
    url: String,
}

impl HttpTarget {
    /// Builds the client: `tls` trusts our roots (see [`super::tls`]).
    pub fn new(
        url: &str,
        headers: &[(String, SecretString)],
        tls: rustls::ClientConfig,
    ) -> Result<Self, String> {
        let mut defaults = HeaderMap::new();
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid header name {name}"))?;
            let mut value = HeaderValue::from_str(value.expose_secret())
                .map_err(|_| format!("invalid value for header {name}"))?;
            value.set_sensitive(true);
            defaults.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .default_headers(defaults)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            client,
            url: url.to_owned(),
        })
    }

    /// A fresh transport for one connection.
    pub fn transport(&self) -> StreamableHttpClientTransport<reqwest::Client> {
        let config = StreamableHttpClientTransportConfig::with_uri(self.url.as_str())
            .max_concurrent_requests(MAX_CONCURRENT_REQUESTS);
        StreamableHttpClientTransport::with_client(self.client.clone(), config)
    }
}
