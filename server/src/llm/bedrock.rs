//! AWS Bedrock as the agent's model, through the Converse API: ConverseStream for
//! answers that stream as they are written, Converse for models that cannot stream
//! with tools. One [`Llm::complete`] is one model call; the agent graph loops.
//!
//! The SDK brings the standard AWS credential chain (environment, profile, web
//! identity, container and instance credentials), request signing, and retries with
//! backoff for throttling. Service errors become fixed, user-safe [`LlmError`]s; the
//! service's own message, which may name accounts and resources, is only logged.

mod convert;
mod history;
mod stream;

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use anyhow::Context;
use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_bedrockruntime::{
    Client,
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
    types::{
        ContentBlock, ConverseOutput, InferenceConfiguration, Message, StopReason,
        SystemContentBlock, ToolConfiguration, error::ConverseStreamOutputError,
    },
};
use aws_smithy_http_client::tls;

use self::stream::Assembly;
use super::{
    ChatMessage, Llm, LlmError, LlmInfo, LlmReply, LlmRequest, LlmSettings, TextSink, ToolCall,
    tool_names::ToolNames,
};
use crate::lang::Lang;

/// How long opening a connection to Bedrock may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait before a retry. The SDK reads Bedrock's `x-amz-retry-after` (in
/// milliseconds, as a `u64`: no value can overflow) and waits at most this long, so a
/// service asking for an hour delays a call seconds, not the SDK's default 20 s.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// AWS Bedrock. See the module documentation.
pub struct Bedrock {
    client: Client,
    info: LlmInfo,
    system_prompt: String,
    max_tokens: Option<u32>,
    timeout: Duration,
    /// Cleared for good once the model says it cannot stream with tools.
    streaming: AtomicBool,
}

impl Bedrock {
    /// Connects as the settings say: region, endpoint override, retries, credentials
    /// (the standard chain unless static ones are given). Fails, naming the setting,
    /// when the model or the region is missing.
    pub async fn from_settings(settings: &LlmSettings) -> anyhow::Result<Self> {
        let model_id = settings.bedrock_model_id.clone().context(
            "LLM_PROVIDER=bedrock needs BEDROCK_MODEL_ID (a Bedrock model or inference profile id)",
        )?;
        // rustls on ring: the SDK's default TLS stack would build aws-lc from C
        // sources, which costs minutes of CI time for nothing this server needs.
        let http_client = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(settings.max_attempts)
                    .with_max_backoff(MAX_BACKOFF),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .build(),
            );
        if let Some(region) = &settings.aws_region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(credentials) = &settings.aws_credentials {
            loader = loader.credentials_provider(credentials.clone());
        }
        let sdk_config = loader.load().await;
        anyhow::ensure!(
            sdk_config.region().is_some(),
            "LLM_PROVIDER=bedrock needs a region: set AWS_REGION (or a region in the AWS profile)"
        );
        let mut config = aws_sdk_bedrockruntime::config::Builder::from(&sdk_config);
        // Only Bedrock's endpoint: other AWS calls (STS for web identity) keep theirs.
        if let Some(url) = &settings.bedrock_endpoint_url {
            config = config.endpoint_url(url);
        }
        let client = Client::from_conf(config.build());
        tracing::info!(
            model = %model_id,
            region = ?sdk_config.region().map(Region::as_ref),
            endpoint = settings.bedrock_endpoint_url.as_deref().unwrap_or("(the region's)"),
            streaming = settings.bedrock_streaming,
            "Bedrock client ready"
        );
        Ok(Self {
            client,
            info: LlmInfo {
                provider: "bedrock".into(),
                label: format!("Bedrock · {model_id}"),
                model: model_id,
            },
            system_prompt: settings.system_prompt().to_owned(),
            max_tokens: settings.max_tokens,
            timeout: settings.timeout,
            streaming: AtomicBool::new(settings.bedrock_streaming),
        })
    }

    /// The request's conversation and tool config, validated.
    fn prepare(
        &self,
        request: LlmRequest<'_>,
    ) -> Result<(Vec<Message>, Option<ToolConfiguration>, ToolNames), LlmError> {
        // Offered tools first, so their mapped names win any collision; then tools
        // that only appear in the history.
        let history_names = request.messages.iter().flat_map(|m| match m {
            ChatMessage::Assistant { tool_calls, .. } => {
                tool_calls.iter().map(|c| c.name.as_str()).collect()
            }
            _ => Vec::new(),
        });
        let names = ToolNames::new(
            request
                .tools
                .iter()
                .map(|t| t.name.as_str())
                .chain(history_names),
        );
        let mut messages = convert::messages(request.messages, &names)?;
        let mut tool_config = convert::tool_config(request.tools, &names)?;
        let fixes = history::validate(&mut messages, &mut tool_config)?;
        if !fixes.is_empty() {
            tracing::warn!(?fixes, "repaired the conversation before calling Bedrock");
        }
        Ok((messages, tool_config, names))
    }

    /// `maxTokens` when `LLM_MAX_TOKENS` is set; otherwise the model's default.
    fn inference_config(&self) -> Option<InferenceConfiguration> {
        self.max_tokens.map(|max| {
            InferenceConfiguration::builder()
                .max_tokens(i32::try_from(max).unwrap_or(i32::MAX))
                .build()
        })
    }

    /// The system prompt block sent with every call.
    fn system(&self) -> SystemContentBlock {
        SystemContentBlock::Text(self.system_prompt.clone())
    }

    /// One ConverseStream call, streaming text to `sink` as it arrives.
    async fn converse_stream(
        &self,
        messages: Vec<Message>,
        tool_config: Option<ToolConfiguration>,
        names: &ToolNames,
        sink: &mut dyn TextSink,
    ) -> Result<LlmReply, Failure> {
        let mut output = self
            .client
            .converse_stream()
            .model_id(&self.info.model)
            .system(self.system())
            .set_messages(Some(messages))
            .set_tool_config(tool_config)
            .set_inference_config(self.inference_config())
            .send()
            .await
            // Retries (throttling) happen inside `send`, before any text streams.
            .map_err(|error| {
                if cannot_stream(&error) {
                    Failure::CannotStream
                } else {
                    Failure::Llm(self.request_failed(&error))
                }
            })?;
        let mut assembly = Assembly::default();
        loop {
            match output.stream.recv().await {
                Ok(Some(event)) => {
                    if let Some(text) = assembly.push(event) {
                        sink.text(&text).await;
                    }
                }
                Ok(None) => break,
                // The connection can still break after `messageStop` (before
                // `metadata`); the answer is whole by then.
                Err(error) if assembly.is_stopped() => {
                    tracing::debug!(error = %DisplayErrorContext(&error), "Bedrock stream ended after messageStop");
                    break;
                }
                Err(error) => return Err(Failure::Llm(self.stream_failed(&error))),
            }
        }
        assembly.finish(names).map_err(Failure::Llm)
    }

    /// One Converse call; the whole text reaches `sink` at once.
    async fn converse(
        &self,
        messages: Vec<Message>,
        tool_config: Option<ToolConfiguration>,
        names: &ToolNames,
        sink: &mut dyn TextSink,
    ) -> Result<LlmReply, LlmError> {
        let output = self
            .client
            .converse()
            .model_id(&self.info.model)
            .system(self.system())
            .set_messages(Some(messages))
            .set_tool_config(tool_config)
            .set_inference_config(self.inference_config())
            .send()
            .await
            .map_err(|error| self.request_failed(&error))?;
        let mut reply = LlmReply {
            usage: output.usage.as_ref().map(stream::usage_of),
            ..LlmReply::default()
        };
        if let Some(ConverseOutput::Message(message)) = output.output {
            for block in message.content {
                match block {
                    ContentBlock::Text(text) => reply.text.push_str(&text),
                    ContentBlock::ToolUse(tool) => {
                        let input = convert::to_json(&tool.input).to_string();
                        reply.tool_calls.push(ToolCall::parse(
                            tool.tool_use_id,
                            names.to_tool(&tool.name),
                            &input,
                        ));
                    }
                    _ => {}
                }
            }
        }
        if reply.tool_calls.is_empty() && reply.text.trim().is_empty() {
            return Err(stream::empty_answer(&output.stop_reason));
        }
        if output.stop_reason == StopReason::MaxTokens {
            tracing::warn!("Bedrock answer stopped at the token limit (LLM_MAX_TOKENS)");
        }
        sink.text(&reply.text).await;
        Ok(reply)
    }

    /// Maps a failed request to a user-safe error, logging the service's details.
    fn request_failed<E, R>(&self, error: &SdkError<E, R>) -> LlmError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        tracing::warn!(
            model = %self.info.model,
            code = error.code().unwrap_or("-"),
            error = %DisplayErrorContext(error),
            "Bedrock request failed"
        );
        match error {
            SdkError::TimeoutError(_) => LlmError::Timeout,
            SdkError::DispatchFailure(failure) if failure.is_timeout() => LlmError::Timeout,
            // No credentials anywhere in the chain: the SDK fails before sending.
            SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_)
                if DisplayErrorContext(error)
                    .to_string()
                    .contains("credentials") =>
            {
                LlmError::AccessDenied
            }
            SdkError::DispatchFailure(_) => {
                LlmError::Unavailable("its endpoint cannot be reached".into())
            }
            SdkError::ServiceError(_) => self.service_error(error.code(), error.message()),
            _ => LlmError::Unavailable("its answer could not be read".into()),
        }
    }

    /// Maps an error inside the event stream: an exception event, or a broken stream.
    fn stream_failed(
        &self,
        error: &SdkError<ConverseStreamOutputError, impl std::fmt::Debug>,
    ) -> LlmError {
        tracing::warn!(
            model = %self.info.model,
            error = %DisplayErrorContext(error),
            "Bedrock stream failed"
        );
        let Some(service) = error.as_service_error() else {
            return LlmError::Unavailable("its answer was cut off".into());
        };
        let code = match service {
            ConverseStreamOutputError::ThrottlingException(_) => Some("ThrottlingException"),
            ConverseStreamOutputError::ValidationException(_) => Some("ValidationException"),
            ConverseStreamOutputError::ModelStreamErrorException(_) => {
                Some("ModelStreamErrorException")
            }
            ConverseStreamOutputError::ServiceUnavailableException(_) => {
                Some("ServiceUnavailableException")
            }
            _ => service.code(),
        };
        self.service_error(code, service.message())
    }

    /// Maps a Bedrock error code (and, for validation errors, its message) to a
    /// fixed error. Only the code decides; the message is never shown.
    fn service_error(&self, code: Option<&str>, message: Option<&str>) -> LlmError {
        match code.unwrap_or_default() {
            "AccessDeniedException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "ExpiredTokenException"
            | "IncompleteSignatureException" => LlmError::AccessDenied,
            "ResourceNotFoundException" => LlmError::ModelNotFound(self.info.model.clone()),
            "ThrottlingException" | "ServiceQuotaExceededException" => LlmError::Throttled,
            "ModelTimeoutException" => LlmError::Timeout,
            "ValidationException"
                if message.is_some_and(|m| m.to_lowercase().contains("model identifier")) =>
            {
                LlmError::ModelNotFound(self.info.model.clone())
            }
            "ValidationException" => {
                LlmError::Refused("the request is not valid for this model".into())
            }
            _ => LlmError::Unavailable("the model service failed to answer".into()),
        }
    }
}

/// How one streaming attempt failed.
enum Failure {
    /// The model cannot stream (with tools): use Converse instead.
    CannotStream,
    Llm(LlmError),
}

/// Bedrock answers ConverseStream for models that only support Converse with tools
/// with a `ValidationException` such as "This model doesn't support tool use in
/// streaming mode."
fn cannot_stream<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.code() == Some("ValidationException")
        && error
            .message()
            .is_some_and(|m| m.to_lowercase().contains("stream"))
}

#[async_trait]
impl Llm for Bedrock {
    fn info(&self) -> &LlmInfo {
        &self.info
    }

    fn consulting(&self, lang: Lang) -> String {
        match lang {
            Lang::Es => format!("Consultando a Bedrock ({})...", self.info.model),
            Lang::En => format!("Consulting Bedrock ({})...", self.info.model),
        }
    }

    async fn complete(
        &self,
        request: LlmRequest<'_>,
        sink: &mut dyn TextSink,
    ) -> Result<LlmReply, LlmError> {
        let (messages, tool_config, names) = self.prepare(request)?;
        // One deadline for the whole call: the SDK's retries and the streamed answer.
        let call = async {
            if self.streaming.load(Ordering::Relaxed) {
                match self
                    .converse_stream(messages.clone(), tool_config.clone(), &names, sink)
                    .await
                {
                    Err(Failure::CannotStream) => {
                        tracing::warn!(
                            model = %self.info.model,
                            "the model cannot stream with tools; using Converse from now on"
                        );
                        self.streaming.store(false, Ordering::Relaxed);
                    }
                    Err(Failure::Llm(error)) => return Err(error),
                    Ok(reply) => return Ok(reply),
                }
            }
            self.converse(messages, tool_config, &names, sink).await
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .unwrap_or(Err(LlmError::Timeout))
    }
}
