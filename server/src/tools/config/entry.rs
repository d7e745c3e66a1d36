//! One server entry of `mcp.json`, read field by field so that every problem names
//! its field.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::{ConfigError, FIELDS, INHERITED_ENV, ServerConfig, ServerTransport};
use crate::tools::{
    expand::{Environment, expand},
    policy::{ApprovalPolicy, ApprovalRules},
};

/// One server entry being read, for error messages.
pub(super) struct Entry<'a> {
    pub path: &'a Path,
    pub name: &'a str,
    pub env: &'a Environment,
}

impl Entry<'_> {
    pub fn error(&self, field: Option<&str>, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.path.to_owned(),
            server: Some(self.name.to_owned()),
            field: field.map(str::to_owned),
            problem: problem.into(),
        }
    }

    pub fn parse(&self, entry: &Value) -> Result<ServerConfig, ConfigError> {
        if self.name.is_empty()
            || self.name.len() > 48
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(self.error(None, "server names are 1 to 48 letters, digits, '_' or '-'"));
        }
        let Value::Object(entry) = entry else {
            return Err(self.error(None, "must be an object such as {\"url\": \"https://…\"}"));
        };
        if let Some(unknown) = entry.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(self.error(
                Some(unknown),
                format!("unknown field; expected one of: {}", FIELDS.join(", ")),
            ));
        }
        let kind = self.string_opt(entry, "type")?;
        let transport = match (
            kind.as_deref(),
            entry.contains_key("url"),
            entry.contains_key("command"),
        ) {
            (Some("sse"), _, _) => {
                return Err(self.error(
                    Some("type"),
                    "the SSE transport is not supported; use Streamable HTTP (\"type\": \"http\")",
                ));
            }
            (_, true, true) => {
                return Err(self.error(None, "has both \"url\" and \"command\"; give one"));
            }
            (None | Some("http" | "streamable-http" | "streamableHttp"), true, false) => {
                self.http(entry)?
            }
            (None | Some("stdio"), false, true) => self.stdio(entry)?,
            (Some("http" | "streamable-http" | "streamableHttp"), false, _) => {
                return Err(self.error(Some("url"), "is required for an HTTP server"));
            }
            (Some("stdio"), _, false) => {
                return Err(self.error(Some("command"), "is required for a stdio server"));
            }
            (None, false, false) => {
                return Err(self.error(
                    None,
                    "needs \"url\" (Streamable HTTP) or \"command\" (stdio)",
                ));
            }
            (Some(other), _, _) => {
                return Err(self.error(
                    Some("type"),
                    format!("unknown transport \"{other}\"; expected \"http\" or \"stdio\""),
                ));
            }
        };
        Ok(ServerConfig {
            name: self.name.to_owned(),
            transport,
            disabled: self.flag(entry, "disabled")?,
            required: self.flag(entry, "required")?,
            approval: self.approval(entry)?,
        })
    }

    fn http(&self, entry: &Map<String, Value>) -> Result<ServerTransport, ConfigError> {
        let url = self.string_opt(entry, "url")?.unwrap_or_default();
        let parsed = reqwest::Url::parse(&url)
            .map_err(|e| self.error(Some("url"), format!("not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(self.error(
                Some("url"),
                "must be an http:// or https:// URL with a host",
            ));
        }
        let mut headers = Vec::new();
        for (name, value) in self.string_map(entry, "headers")? {
            let field = format!("headers.{name}");
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(self.error(Some(&field), "not a valid HTTP header name"));
            }
            if reqwest::header::HeaderValue::from_str(value.expose_secret()).is_err() {
                return Err(self.error(Some(&field), "not a valid HTTP header value"));
            }
            headers.push((name, value));
        }
        Ok(ServerTransport::Http { url, headers })
    }

    fn stdio(&self, entry: &Map<String, Value>) -> Result<ServerTransport, ConfigError> {
        let command = self.string_opt(entry, "command")?.unwrap_or_default();
        if command.trim().is_empty() {
            return Err(self.error(Some("command"), "must not be empty"));
        }
        let args = match entry.get("args") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(text) => self.expand(&format!("args[{i}]"), text),
                    _ => Err(self.error(Some(&format!("args[{i}]")), "must be a string")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(self.error(Some("args"), "must be an array of strings")),
        };
        let mut env: Vec<(String, SecretString)> = INHERITED_ENV
            .iter()
            .filter_map(|name| {
                let value = self.env.get(*name)?;
                Some(((*name).to_owned(), SecretString::from(value.clone())))
            })
            .collect();
        for (name, value) in self.string_map(entry, "env")? {
            env.retain(|(existing, _)| *existing != name);
            env.push((name, value));
        }
        let cwd = self.string_opt(entry, "cwd")?.map(PathBuf::from);
        Ok(ServerTransport::Stdio {
            command,
            args,
            env,
            cwd,
        })
    }

    fn approval(&self, entry: &Map<String, Value>) -> Result<ApprovalRules, ConfigError> {
        let mut rules = ApprovalRules::default();
        let Some(value) = entry.get("toolApproval") else {
            return Ok(rules);
        };
        let Value::Object(map) = value else {
            return Err(self.error(
                Some("toolApproval"),
                "must be an object such as {\"delete_file\": \"ask\", \"*\": \"auto\"}",
            ));
        };
        for (tool, policy) in map {
            let policy = policy
                .as_str()
                .and_then(ApprovalPolicy::parse)
                .ok_or_else(|| {
                    self.error(
                        Some(&format!("toolApproval.{tool}")),
                        "must be \"auto\", \"ask\" or \"deny\"",
                    )
                })?;
            if tool == "*" {
                rules.fallback = Some(policy);
            } else {
                rules.tools.insert(tool.clone(), policy);
            }
        }
        Ok(rules)
    }

    /// An optional string field, expanded.
    fn string_opt(
        &self,
        entry: &Map<String, Value>,
        field: &str,
    ) -> Result<Option<String>, ConfigError> {
        match entry.get(field) {
            None => Ok(None),
            Some(Value::String(text)) => self.expand(field, text).map(Some),
            Some(_) => Err(self.error(Some(field), "must be a string")),
        }
    }

    /// An optional object of strings (`headers`, `env`), values expanded and secret.
    fn string_map(
        &self,
        entry: &Map<String, Value>,
        field: &str,
    ) -> Result<Vec<(String, SecretString)>, ConfigError> {
        match entry.get(field) {
            None => Ok(Vec::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(key, value)| {
                    let path = format!("{field}.{key}");
                    match value {
                        Value::String(text) => {
                            Ok((key.clone(), SecretString::from(self.expand(&path, text)?)))
                        }
                        _ => Err(self.error(Some(&path), "must be a string")),
                    }
                })
                .collect(),
            Some(_) => Err(self.error(Some(field), "must be an object of strings")),
        }
    }

    fn flag(&self, entry: &Map<String, Value>, field: &str) -> Result<bool, ConfigError> {
        match entry.get(field) {
            None => Ok(false),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(_) => Err(self.error(Some(field), "must be true or false")),
        }
    }

    fn expand(&self, field: &str, text: &str) -> Result<String, ConfigError> {
        expand(text, self.env).map_err(|e| self.error(Some(field), e.to_string()))
    }
}
