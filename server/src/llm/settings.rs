//! The LLM settings: which provider drives the agent and how to reach it. Part of the
//! server's [`Settings`](crate::config::Settings), from flags or environment variables.

use std::time::Duration;

use secrecy::SecretString;

use crate::config::parse_secs;

/// Which model drives the agent, and how to reach it.
#[derive(Debug, Clone, clap::Args)]
pub struct LlmSettings {
    /// The LLM provider: `local` (the deterministic planner, no network), `bedrock`
    /// (AWS Bedrock) or `openai` (any OpenAI-compatible chat-completions API). Unset:
    /// `bedrock` when BEDROCK_MODEL_ID is set, else `local`.
    #[arg(long = "llm-provider", env = "LLM_PROVIDER", value_enum)]
    pub provider: Option<Provider>,

    /// Seconds one model call may take, its whole streamed answer included.
    #[arg(long = "llm-timeout", env = "LLM_TIMEOUT_SECS", default_value = "60", value_parser = parse_secs)]
    pub timeout: Duration,

    /// Attempts per model call when the service throttles or fails transiently
    /// (1 = no retries). Waits grow exponentially between attempts.
    #[arg(long = "llm-max-attempts", env = "LLM_MAX_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub max_attempts: u32,

    /// The most tokens one answer may have. Unset: the model's default.
    #[arg(long = "llm-max-tokens", env = "LLM_MAX_TOKENS", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_tokens: Option<u32>,

    /// The system prompt for Bedrock and OpenAI-compatible models. Unset: a built-in
    /// prompt that asks the model to use the tools and answer in the user's language.
    #[arg(long = "llm-system-prompt", env = "LLM_SYSTEM_PROMPT")]
    pub system_prompt: Option<String>,

    /// The price of input (prompt) tokens, in US dollars per million tokens. With
    /// LLM_PRICE_OUTPUT_PER_MTOK it adds `cost_usd` to usage and a cost counter to
    /// the metrics. Unset: usage is counted in tokens only.
    #[arg(long = "llm-price-input-per-mtok", env = "LLM_PRICE_INPUT_PER_MTOK", value_parser = super::usage::parse_price, requires = "price_output_per_mtok")]
    pub price_input_per_mtok: Option<f64>,

    /// The price of output (completion) tokens, in US dollars per million tokens.
    #[arg(long = "llm-price-output-per-mtok", env = "LLM_PRICE_OUTPUT_PER_MTOK", value_parser = super::usage::parse_price, requires = "price_input_per_mtok")]
    pub price_output_per_mtok: Option<f64>,

    /// Bedrock: the model or inference profile id, e.g.
    /// `us.anthropic.claude-3-5-haiku-20241022-v1:0`.
    #[arg(long = "bedrock-model-id", env = "BEDROCK_MODEL_ID", value_parser = parse_non_empty)]
    pub bedrock_model_id: Option<String>,

    /// Bedrock: the AWS region. Unset: the AWS profile's region (or the instance's).
    #[arg(long = "aws-region", env = "AWS_REGION", value_parser = parse_non_empty)]
    pub aws_region: Option<String>,

    /// Bedrock: send requests to this endpoint instead of the region's (a VPC
    /// endpoint, or a test double). `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` also works.
    #[arg(long = "bedrock-endpoint-url", env = "BEDROCK_ENDPOINT_URL", value_parser = parse_http_url)]
    pub bedrock_endpoint_url: Option<String>,

    /// Bedrock: stream answers with ConverseStream (`true`) or wait for whole answers
    /// with Converse (`false`). Models that cannot stream with tools fall back to
    /// Converse on their own.
    #[arg(long = "bedrock-streaming", env = "BEDROCK_STREAMING", default_value_t = true, action = clap::ArgAction::Set)]
    pub bedrock_streaming: bool,

    /// Not a setting: static AWS credentials for tests and embedders. `None` (always,
    /// from flags and environment) uses the standard AWS credential chain.
    #[arg(skip)]
    pub aws_credentials: Option<aws_sdk_bedrockruntime::config::Credentials>,

    /// OpenAI-compatible: the API base URL, up to and including `/v1`, e.g.
    /// `http://localhost:11434/v1` (Ollama) or `https://api.openai.com/v1`.
    #[arg(long = "openai-base-url", env = "OPENAI_BASE_URL", value_parser = parse_http_url)]
    pub openai_base_url: Option<String>,

    /// OpenAI-compatible: the model name, e.g. `llama3.1` or `gpt-4o-mini`.
    #[arg(long = "openai-model", env = "OPENAI_MODEL", value_parser = parse_non_empty)]
    pub openai_model: Option<String>,

    /// OpenAI-compatible: the API key, sent as a bearer token. Never logged.
    #[arg(long = "openai-api-key", env = "OPENAI_API_KEY", hide_env_values = true, value_parser = parse_secret)]
    pub openai_api_key: Option<SecretString>,
}

/// The LLM providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Provider {
    /// The local planner.
    Local,
    /// AWS Bedrock, through the Converse API.
    Bedrock,
    /// An OpenAI-compatible chat-completions API (OpenAI, Ollama, vLLM, LM Studio).
    Openai,
}

impl Provider {
    /// The name used in settings, logs and the `ready` event.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Bedrock => "bedrock",
            Self::Openai => "openai",
        }
    }
}

impl LlmSettings {
    /// The provider to use: the one set, else Bedrock when a Bedrock model is set,
    /// else the local planner.
    pub fn resolved_provider(&self) -> Provider {
        match (self.provider, &self.bedrock_model_id) {
            (Some(provider), _) => provider,
            (None, Some(_)) => Provider::Bedrock,
            (None, None) => Provider::Local,
        }
    }

    /// The price table, when both prices are set.
    pub fn prices(&self) -> Option<super::usage::Prices> {
        Some(super::usage::Prices {
            input_per_mtok: self.price_input_per_mtok?,
            output_per_mtok: self.price_output_per_mtok?,
        })
    }

    /// The system prompt for real models.
    pub fn system_prompt(&self) -> &str {
        self.system_prompt
            .as_deref()
            .filter(|prompt| !prompt.trim().is_empty())
            .unwrap_or(super::DEFAULT_SYSTEM_PROMPT)
    }
}

fn parse_non_empty(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(text.to_owned())
    }
}

/// Accepts an `http://` or `https://` URL with a host; drops a trailing `/`.
fn parse_http_url(text: &str) -> Result<String, String> {
    let url =
        reqwest::Url::parse(text.trim()).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "{text:?} must be an http:// or https:// URL with a host"
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn parse_secret(text: &str) -> Result<SecretString, String> {
    if text.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(SecretString::from(text.trim()))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use secrecy::ExposeSecret;

    use super::*;
    use crate::config::Settings;

    fn parse(args: &[&str]) -> Result<Settings, clap::Error> {
        Settings::try_parse_from(std::iter::once("server").chain(args.iter().copied()))
    }

    #[test]
    fn the_provider_defaults_to_bedrock_only_with_a_model() {
        let settings = parse(&[]).unwrap();
        assert_eq!(settings.llm.resolved_provider(), Provider::Local);
        let settings = parse(&["--bedrock-model-id", "m"]).unwrap();
        assert_eq!(settings.llm.resolved_provider(), Provider::Bedrock);
        let settings = parse(&["--bedrock-model-id", "m", "--llm-provider", "local"]).unwrap();
        assert_eq!(settings.llm.resolved_provider(), Provider::Local);
        let settings = parse(&["--llm-provider", "openai"]).unwrap();
        assert_eq!(settings.llm.resolved_provider(), Provider::Openai);
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (flag, value) in [
            ("--llm-provider", "gemini"),
            ("--llm-timeout", "soon"),
            ("--llm-max-attempts", "0"),
            ("--bedrock-endpoint-url", "bedrock.local"),
            ("--openai-base-url", "ftp://x"),
            ("--bedrock-streaming", "maybe"),
            ("--openai-model", " "),
        ] {
            let err = parse(&[flag, value]).unwrap_err();
            assert!(err.to_string().contains(flag), "{flag}: {err}");
        }
    }

    #[test]
    fn prices_come_in_pairs() {
        let settings = parse(&[
            "--llm-price-input-per-mtok",
            "3",
            "--llm-price-output-per-mtok",
            "15",
        ])
        .unwrap();
        let prices = settings.llm.prices().unwrap();
        assert_eq!((prices.input_per_mtok, prices.output_per_mtok), (3.0, 15.0));
        assert_eq!(parse(&[]).unwrap().llm.prices(), None);
        let err = parse(&["--llm-price-input-per-mtok", "3"]).unwrap_err();
        assert!(
            err.to_string().contains("--llm-price-output-per-mtok"),
            "{err}"
        );
        let err = parse(&["--llm-price-output-per-mtok=-2"]).unwrap_err();
        assert!(
            err.to_string().contains("--llm-price-output-per-mtok"),
            "{err}"
        );
    }

    #[test]
    fn urls_lose_their_trailing_slash() {
        let settings = parse(&["--openai-base-url", "http://localhost:11434/v1/"]).unwrap();
        assert_eq!(
            settings.llm.openai_base_url.as_deref(),
            Some("http://localhost:11434/v1")
        );
    }

    #[test]
    fn the_api_key_never_shows_in_debug_output() {
        let settings = parse(&["--openai-api-key", "sk-very-secret"]).unwrap();
        let key = settings.llm.openai_api_key.as_ref().unwrap();
        assert_eq!(key.expose_secret(), "sk-very-secret");
        assert!(!format!("{settings:?}").contains("sk-very-secret"));
    }
}
