//! Any OpenAI-compatible chat-completions API as the agent's model (OpenAI, Ollama,
//! vLLM, LM Studio): `POST {OPENAI_BASE_URL}/chat/completions` with `tools` and
//! `stream: true`, the answer read as server-sent events (or whole, from servers that
//! ignore `stream`). Usage is asked for with `stream_options.include_usage` and read
//! from the last chunk; a server that refuses the option is asked without it from
//! then on. One [`Llm::complete`] is one model call; the agent graph loops.
//!
//! HTTP is hyper with rustls on ring, the stack the Bedrock SDK already brings, so
//! `https://` endpoints work without a second TLS library.

mod request;
mod sse;
mod whole;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use async_trait::async_trait;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{
    Request, Response, StatusCode, Uri,
    body::{Bytes, Incoming},
    header::{self, HeaderValue},
};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use secrecy::{ExposeSecret, SecretString};

use self::{
    request::BodyOptions,
    sse::{Assembly, SseParser},
};
use super::{
    ChatMessage, Llm, LlmError, LlmInfo, LlmReply, LlmRequest, LlmSettings, TextSink,
    tool_names::ToolNames,
};
use crate::lang::Lang;

/// The first wait before retrying; it doubles per attempt up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// The longest `Retry-After` honoured; longer ones fail the call instead.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(20);
/// How much of an error body is read (and logged).
const ERROR_BODY_LIMIT: usize = 16 * 1024;

/// An OpenAI-compatible chat-completions API. See the module documentation.
pub struct OpenAi {
    /// Shared connection pool.
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// `{OPENAI_BASE_URL}/chat/completions`.
    url: Uri,
    api_key: Option<SecretString>,
    info: LlmInfo,
    system_prompt: String,
    max_tokens: Option<u32>,
    timeout: Duration,
    /// Tries per call for throttling and transient failures.
    max_attempts: u32,
    /// Cleared for good once the server refuses `stream_options`.
    include_usage: AtomicBool,
}

/// How sending a request failed.
enum SendError {
    Llm(LlmError),
    /// The server refused `stream_options` (older or stricter servers): ask again
    /// without it.
    NoStreamOptions,
}

impl OpenAi {
    /// Builds the client from the settings; fails, naming the setting, when the base
    /// URL or the model is missing or unusable.
    pub fn from_settings(settings: &LlmSettings) -> anyhow::Result<Self> {
        let base = settings.openai_base_url.as_deref().context(
            "LLM_PROVIDER=openai needs OPENAI_BASE_URL (e.g. http://localhost:11434/v1 for Ollama)",
        )?;
        let model = settings
            .openai_model
            .clone()
            .context("LLM_PROVIDER=openai needs OPENAI_MODEL (e.g. llama3.1)")?;
        let url: Uri = format!("{base}/chat/completions")
            .parse()
            .with_context(|| format!("OPENAI_BASE_URL {base:?} is not a usable URL"))?;
        let tls = tls_config(url.scheme_str() == Some("https"))?;
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let http = Client::builder(TokioExecutor::new()).build(connector);
        tracing::info!(
            %model,
            url = %url,
            api_key = if settings.openai_api_key.is_some() { "set" } else { "unset" },
            "OpenAI-compatible client ready"
        );
        Ok(Self {
            http,
            url,
            api_key: settings.openai_api_key.clone(),
            info: LlmInfo {
                provider: "openai".into(),
                label: format!("OpenAI-compatible · {model}"),
                model,
            },
            system_prompt: settings.system_prompt().to_owned(),
            max_tokens: settings.max_tokens,
            timeout: settings.timeout,
            max_attempts: settings.max_attempts,
            include_usage: AtomicBool::new(true),
        })
    }

    /// The request body for the conversation.
    fn body(&self, request: LlmRequest<'_>, names: &ToolNames, include_usage: bool) -> Bytes {
        let options = BodyOptions {
            model: &self.info.model,
            system_prompt: &self.system_prompt,
            max_tokens: self.max_tokens,
            include_usage,
        };
        Bytes::from(request::body(&options, request, names).to_string())
    }

    /// Sends the request, asking for usage unless the server refused that before;
    /// a server that refuses it now gets the request again without it.
    async fn send_asking_usage(
        &self,
        request: LlmRequest<'_>,
        names: &ToolNames,
    ) -> Result<Response<Incoming>, LlmError> {
        let include_usage = self.include_usage.load(Ordering::Relaxed);
        match self
            .send(self.body(request, names, include_usage), include_usage)
            .await
        {
            Ok(response) => Ok(response),
            Err(SendError::Llm(error)) => Err(error),
            Err(SendError::NoStreamOptions) => {
                tracing::warn!(
                    model = %self.info.model,
                    "the server refuses stream_options; asking without usage from now on"
                );
                self.include_usage.store(false, Ordering::Relaxed);
                match self.send(self.body(request, names, false), false).await {
                    Ok(response) => Ok(response),
                    Err(SendError::Llm(error)) => Err(error),
                    Err(SendError::NoStreamOptions) => Err(LlmError::Refused(
                        "the request is not valid for this model".into(),
                    )),
                }
            }
        }
    }

    /// One HTTP request for `body` (rebuilt per attempt; the body is cheap to clone).
    fn request(&self, body: &Bytes) -> Result<Request<Full<Bytes>>, LlmError> {
        let mut builder = Request::post(self.url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "text/event-stream");
        if let Some(key) = &self.api_key {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", key.expose_secret()))
                .map_err(|_| {
                    LlmError::Unavailable("the configured API key is not usable".into())
                })?;
            // Keeps the key out of any debug output of the request.
            value.set_sensitive(true);
            builder = builder.header(header::AUTHORIZATION, value);
        }
        builder.body(Full::new(body.clone())).map_err(|error| {
            tracing::error!(%error, "could not build the chat-completions request");
            LlmError::Unavailable("the request to the model could not be built".into())
        })
    }

    /// Sends the request, retrying throttling and transient failures with backoff;
    /// returns the response once the server accepted it. `with_stream_options` says
    /// the body asks for usage, which a server may refuse.
    async fn send(
        &self,
        body: Bytes,
        with_stream_options: bool,
    ) -> Result<Response<Incoming>, SendError> {
        let mut attempt = 1;
        loop {
            let request = self.request(&body).map_err(SendError::Llm)?;
            let (error, retryable, retry_after) = match self.http.request(request).await {
                Ok(response) if response.status().is_success() => {
                    return Ok(response);
                }
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(response.headers());
                    let detail = error_body(response.into_body()).await;
                    tracing::warn!(%status, attempt, detail, "chat-completions request failed");
                    if with_stream_options
                        && matches!(
                            status,
                            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY
                        )
                        && detail.to_lowercase().contains("stream_options")
                    {
                        return Err(SendError::NoStreamOptions);
                    }
                    // Throttling and server faults may pass; a refused request, bad
                    // credentials or a wrong URL or model will not.
                    let retryable =
                        status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    (self.status_error(status, &detail), retryable, retry_after)
                }
                Err(error) => {
                    tracing::warn!(attempt, error = %error, "chat-completions endpoint unreachable");
                    (
                        LlmError::Unavailable("its endpoint cannot be reached".into()),
                        true,
                        None,
                    )
                }
            };
            if !retryable || attempt >= self.max_attempts {
                return Err(SendError::Llm(error));
            }
            let backoff = FIRST_BACKOFF
                .saturating_mul(1 << (attempt - 1).min(8))
                .min(MAX_BACKOFF);
            let wait = match retry_after {
                // Waiting longer would outlast the turn; fail now with a clear error.
                Some(wait) if wait > MAX_RETRY_AFTER => return Err(SendError::Llm(error)),
                Some(wait) => wait,
                None => backoff,
            };
            tracing::info!(
                attempt,
                wait_ms = wait.as_millis() as u64,
                "retrying the model call"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Maps an error status to a fixed error. The body only tells an unknown model
    /// apart from other client errors; it is logged, never shown.
    fn status_error(&self, status: StatusCode, detail: &str) -> LlmError {
        let detail = detail.to_lowercase();
        let names_model = detail.contains("model")
            && (detail.contains("not found") || detail.contains("does not exist"));
        match status {
            StatusCode::TOO_MANY_REQUESTS => LlmError::Throttled,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => LlmError::AccessDenied,
            StatusCode::NOT_FOUND if names_model || detail.is_empty() => {
                LlmError::ModelNotFound(self.info.model.clone())
            }
            // Most likely OPENAI_BASE_URL lacks its `/v1` or names the wrong server.
            StatusCode::NOT_FOUND => {
                LlmError::Unavailable("its chat-completions endpoint was not found".into())
            }
            StatusCode::BAD_REQUEST if names_model => {
                LlmError::ModelNotFound(self.info.model.clone())
            }
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
                LlmError::Refused("the request is not valid for this model".into())
            }
            StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => LlmError::Timeout,
            _ => LlmError::Unavailable("the model service failed to answer".into()),
        }
    }

    /// One model call, its answer streamed (or whole, if the server sends it so).
    async fn call(
        &self,
        request: LlmRequest<'_>,
        sink: &mut dyn TextSink,
    ) -> Result<LlmReply, LlmError> {
        // Offered tools first, so their mapped names win any collision.
        let names = ToolNames::new(request.tools.iter().map(|t| t.name.as_str()).chain(
            request.messages.iter().flat_map(|m| match m {
                ChatMessage::Assistant { tool_calls, .. } => {
                    tool_calls.iter().map(|c| c.name.as_str()).collect()
                }
                _ => Vec::new(),
            }),
        ));
        let response = self.send_asking_usage(request, &names).await?;
        let whole = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"));
        if whole {
            let reply = whole::read(response.into_body(), &names).await?;
            sink.text(&reply.text).await;
            return Ok(reply);
        }
        let mut body = response.into_body();
        // Nothing was streamed before this point, so the retries above never
        // repeat text the client has already seen.
        let mut parser = SseParser::default();
        let mut assembly = Assembly::default();
        while let Some(frame) = body.frame().await {
            let data = match frame {
                Ok(frame) => match frame.into_data() {
                    Ok(data) => data,
                    Err(_) => continue, // trailers
                },
                // A break after the server said it was done loses nothing.
                Err(error) if assembly.is_complete() => {
                    tracing::debug!(%error, "chat-completions stream ended after its answer");
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "chat-completions stream broke");
                    return Err(LlmError::Unavailable("its answer was cut off".into()));
                }
            };
            for event in parser.push(&data)? {
                if let Some(piece) = assembly.push(&event)? {
                    sink.text(&piece).await;
                }
            }
        }
        assembly.finish(&names)
    }
}

/// TLS settings: the system's root certificates for `https://` endpoints; none are
/// needed (and none may be installed) for a local `http://` server.
fn tls_config(https: bool) -> anyhow::Result<rustls::ClientConfig> {
    use hyper_rustls::ConfigBuilderExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup failed")?;
    let builder = if https {
        builder.with_native_roots().context(
            "OPENAI_BASE_URL is https:// but the system has no CA certificates (install ca-certificates)",
        )?
    } else {
        builder.with_root_certificates(rustls::RootCertStore::empty())
    };
    Ok(builder.with_no_client_auth())
}

/// `Retry-After` in seconds, when the server sent one. Any number the server sends is
/// taken without panicking: too large for a `Duration` (`1e20`, `inf`) reads as the
/// longest one, which the caller refuses to wait for.
fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let secs = headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()?;
    if secs.is_nan() || secs < 0.0 {
        return None;
    }
    Some(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
}

/// The start of an error response's body, for the log.
async fn error_body(body: Incoming) -> String {
    match Limited::new(body, ERROR_BODY_LIMIT).collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes())
            .chars()
            .take(500)
            .collect(),
        Err(_) => String::new(),
    }
}

#[async_trait]
impl Llm for OpenAi {
    fn info(&self) -> &LlmInfo {
        &self.info
    }

    fn consulting(&self, lang: Lang) -> String {
        match lang {
            Lang::Es => format!("Consultando al modelo {}...", self.info.model),
            Lang::En => format!("Consulting the model {}...", self.info.model),
        }
    }

    async fn complete(
        &self,
        request: LlmRequest<'_>,
        sink: &mut dyn TextSink,
    ) -> Result<LlmReply, LlmError> {
        tokio::time::timeout(self.timeout, self.call(request, sink))
            .await
            .unwrap_or(Err(LlmError::Timeout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut headers = header::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("0.25"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
    }

    #[test]
    fn retry_after_from_the_network_never_panics() {
        let mut headers = header::HeaderMap::new();
        for (value, want) in [
            ("1e20", Some(Duration::MAX)),
            ("inf", Some(Duration::MAX)),
            ("1.8446744073709552e19", Some(Duration::MAX)),
            ("-1", None),
            ("NaN", None),
            ("-inf", None),
            ("Wed, 21 Oct 2015 07:28:00 GMT", None),
            ("", None),
        ] {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static(value));
            assert_eq!(retry_after(&headers), want, "{value}");
        }
    }
}
