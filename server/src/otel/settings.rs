//! The OpenTelemetry settings, under their standard `OTEL_*` names. Part of the
//! server's [`Settings`](crate::config::Settings).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

/// Where traces go and how the service is named in them.
#[derive(Debug, Clone, clap::Args)]
pub struct OtelSettings {
    /// Export OpenTelemetry traces over OTLP/HTTP (protobuf) to this collector, e.g.
    /// `http://otel-collector:4318` (`/v1/traces` is added). Unset: no traces, at no
    /// cost.
    #[arg(long = "otel-exporter-otlp-endpoint", env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_parser = parse_endpoint)]
    pub endpoint: Option<String>,

    /// The traces URL itself, used as given (wins over OTEL_EXPORTER_OTLP_ENDPOINT).
    #[arg(long = "otel-exporter-otlp-traces-endpoint", env = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", value_parser = parse_endpoint)]
    pub traces_endpoint: Option<String>,

    /// Headers sent with every export, `name=value` pairs separated by commas
    /// (values percent-encoded), e.g. `authorization=Bearer%20KEY`. Never logged.
    #[arg(long = "otel-exporter-otlp-headers", env = "OTEL_EXPORTER_OTLP_HEADERS", hide_env_values = true, value_parser = HeadersParser)]
    pub headers: Option<OtlpHeaders>,

    /// The OTLP protocol: only `http/protobuf` is supported.
    #[arg(long = "otel-exporter-otlp-protocol", env = "OTEL_EXPORTER_OTLP_PROTOCOL", default_value = "http/protobuf", value_parser = ["http/protobuf"])]
    pub protocol: String,

    /// Milliseconds one export may take.
    #[arg(id = "otel_exporter_otlp_timeout", long = "otel-exporter-otlp-timeout", env = "OTEL_EXPORTER_OTLP_TIMEOUT", default_value = "10000", value_parser = parse_millis)]
    pub timeout: Duration,

    /// `service.name` of the traces.
    #[arg(long = "otel-service-name", env = "OTEL_SERVICE_NAME", default_value = "toolstream", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub service_name: String,

    /// More resource attributes, `key=value` pairs separated by commas (e.g.
    /// `deployment.environment.name=prod`).
    #[arg(long = "otel-resource-attributes", env = "OTEL_RESOURCE_ATTRIBUTES", value_parser = parse_attributes)]
    pub resource_attributes: Option<Pairs>,

    /// `true` turns traces off even with an endpoint set.
    #[arg(long = "otel-sdk-disabled", env = "OTEL_SDK_DISABLED", default_value = "false", action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub sdk_disabled: bool,
}

/// `key=value` pairs, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairs(pub Vec<(String, String)>);

/// Export headers; their values are secrets (API keys).
#[derive(Clone)]
pub struct OtlpHeaders(Vec<(String, SecretString)>);

impl std::fmt::Debug for OtlpHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|(name, _)| name.as_str()).collect();
        write!(f, "OtlpHeaders({names:?}, values redacted)")
    }
}

impl OtelSettings {
    /// The URL spans are posted to, if traces are configured.
    pub fn traces_url(&self) -> Option<String> {
        if let Some(url) = &self.traces_endpoint {
            return Some(url.clone());
        }
        let base = self.endpoint.as_deref()?;
        Some(format!("{}/v1/traces", base.trim_end_matches('/')))
    }

    /// The export headers, values exposed.
    pub fn header_values(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .flat_map(|h| h.0.iter())
            .map(|(name, value)| (name.as_str(), value.expose_secret()))
    }

    pub fn resource_attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.resource_attributes
            .iter()
            .flat_map(|p| p.0.iter())
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }
}

/// An `http://` or `https://` URL with a host.
fn parse_endpoint(text: &str) -> Result<String, String> {
    let url =
        reqwest::Url::parse(text.trim()).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "{text:?} must be an http:// or https:// URL with a host"
        ));
    }
    Ok(text.trim().to_owned())
}

fn parse_millis(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => Err(format!(
            "{text:?} must be a positive number of milliseconds"
        )),
    }
}

/// `key=value,key2=value2`, values percent-decoded, as the OpenTelemetry
/// specification writes them; blanks around names and values are dropped. Errors
/// never quote a value (header values are secrets).
fn parse_pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let items = text.split(',').filter(|item| !item.trim().is_empty());
    for (n, item) in items.enumerate() {
        let Some((key, value)) = item.split_once('=') else {
            return Err(format!("item {} is not a key=value pair", n + 1));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("item {} has no key", n + 1));
        }
        let value =
            percent_decode(value.trim()).ok_or_else(|| format!("{key}: bad percent-encoding"))?;
        pairs.push((key.to_owned(), value));
    }
    Ok(pairs)
}

fn parse_attributes(text: &str) -> Result<Pairs, String> {
    parse_pairs(text).map(Pairs)
}

/// Parses export headers with errors that never quote the value (clap's own
/// message for a rejected value would print the API key in it).
#[derive(Clone)]
struct HeadersParser;

impl clap::builder::TypedValueParser for HeadersParser {
    type Value = OtlpHeaders;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<OtlpHeaders, clap::Error> {
        let name = arg.map(ToString::to_string).unwrap_or_default();
        let refuse = |why: String| {
            let message = format!("invalid value for '{name}': {why}\n");
            clap::Error::raw(clap::error::ErrorKind::ValueValidation, message).with_cmd(command)
        };
        let text = value
            .to_str()
            .ok_or_else(|| refuse("it is not UTF-8".into()))?;
        parse_headers(text).map_err(refuse)
    }
}

fn parse_headers(text: &str) -> Result<OtlpHeaders, String> {
    let pairs = parse_pairs(text)?;
    let mut headers = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("{name:?} is not a header name"))?;
        http::HeaderValue::from_str(&value)
            .map_err(|_| format!("the value of {name} is not a valid header value"))?;
        headers.push((name.to_ascii_lowercase(), SecretString::from(value)));
    }
    Ok(OtlpHeaders(headers))
}

/// `%XX` sequences decoded; `None` for a broken one or text that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::config::Settings;

    fn parse(args: &[&str]) -> Result<Settings, clap::Error> {
        Settings::try_parse_from(std::iter::once("server").chain(args.iter().copied()))
    }

    #[test]
    fn traces_are_off_without_an_endpoint() {
        let settings = Settings::for_tests();
        assert_eq!(settings.otel.traces_url(), None);
        assert_eq!(settings.otel.service_name, "toolstream");
    }

    #[test]
    fn the_traces_path_is_added_to_the_generic_endpoint_only() {
        let settings = parse(&["--otel-exporter-otlp-endpoint", "http://collector:4318/"]).unwrap();
        assert_eq!(
            settings.otel.traces_url().as_deref(),
            Some("http://collector:4318/v1/traces")
        );
        let settings = parse(&[
            "--otel-exporter-otlp-endpoint",
            "http://collector:4318",
            "--otel-exporter-otlp-traces-endpoint",
            "https://traces.example.com/ingest",
        ])
        .unwrap();
        assert_eq!(
            settings.otel.traces_url().as_deref(),
            Some("https://traces.example.com/ingest")
        );
    }

    #[test]
    fn headers_are_decoded_and_never_printed() {
        let settings = parse(&[
            "--otel-exporter-otlp-headers",
            "Authorization=Bearer%20s3cret-otel-key, x-tenant = acme",
        ])
        .unwrap();
        let headers: Vec<(&str, &str)> = settings.otel.header_values().collect();
        assert_eq!(
            headers,
            [
                ("authorization", "Bearer s3cret-otel-key"),
                ("x-tenant", "acme")
            ]
        );
        assert!(!format!("{settings:?}").contains("s3cret-otel-key"));
        let err = parse(&["--otel-exporter-otlp-headers", "broken-s3cret"]).unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (flag, value) in [
            ("--otel-exporter-otlp-endpoint", "collector:4318"),
            ("--otel-exporter-otlp-protocol", "grpc"),
            ("--otel-exporter-otlp-timeout", "0"),
            ("--otel-resource-attributes", "no-equals"),
            ("--otel-sdk-disabled", "maybe"),
            ("--otel-service-name", ""),
        ] {
            let err = parse(&[flag, value]).unwrap_err();
            assert!(err.to_string().contains(flag), "{flag}: {err}");
        }
    }
}
