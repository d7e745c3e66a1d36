//! The MCP servers to connect: read from an `mcp.json` in the format Claude Desktop,
//! VS Code and Cursor use (`{"mcpServers": {"name": {…}}}`), or made from the
//! one-server shortcuts (`MCP_SERVER_URL`, the embedded toolbox).
//!
//! A problem stops start-up with a message naming the file, the server and the field.
//! Values may use `${VAR}` (see [`super::expand`]); header values, environment values
//! and arguments may hold secrets, so they are never printed, not even by `Debug`.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::{
    expand::{Environment, expand},
    policy::{ApprovalPolicy, ApprovalRules},
};

/// The name the embedded toolbox and the `MCP_SERVER_URL` toolbox go by.
pub const TOOLBOX: &str = "toolbox";

/// Variables a stdio server inherits from the server's environment (as the official
/// MCP SDKs do); everything else it gets comes from its `env`.
const INHERITED_ENV: &[&str] = &["HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG"];

/// Fields a server entry may have.
const FIELDS: &[&str] = &[
    "type",
    "url",
    "headers",
    "command",
    "args",
    "env",
    "cwd",
    "toolApproval",
    "disabled",
    "required",
];

/// Every configured MCP server, in the file's order.
#[derive(Debug, Clone, Default)]
pub struct McpConfig {
    pub servers: Vec<ServerConfig>,
}

/// One MCP server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Its name in the configuration: shown to users, used in `<server>__<tool>`.
    pub name: String,
    pub transport: ServerTransport,
    /// Listed but not connected.
    pub disabled: bool,
    /// Readiness waits for it and turns fail while it is down (see the README).
    pub required: bool,
    pub approval: ApprovalRules,
}

/// How to reach a server.
#[derive(Clone)]
pub enum ServerTransport {
    /// Streamable HTTP, over `http://` or `https://`.
    Http {
        url: String,
        headers: Vec<(String, SecretString)>,
    },
    /// A child process speaking MCP on its stdin and stdout.
    Stdio {
        command: String,
        args: Vec<String>,
        env: Vec<(String, SecretString)>,
        cwd: Option<PathBuf>,
    },
}

impl ServerTransport {
    /// `http` or `stdio`, for status reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Http { .. } => "http",
            Self::Stdio { .. } => "stdio",
        }
    }

    /// Where the server is, safe to log: the URL without credentials or query, or the
    /// program (never its arguments, which may carry secrets).
    pub fn describe(&self) -> String {
        match self {
            Self::Http { url, .. } => redact_url(url),
            Self::Stdio { command, .. } => command.clone(),
        }
    }
}

impl fmt::Debug for ServerTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http { url, headers } => f
                .debug_struct("Http")
                .field("url", &redact_url(url))
                .field(
                    "headers",
                    &headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
                )
                .finish(),
            Self::Stdio {
                command,
                args,
                env,
                cwd,
            } => f
                .debug_struct("Stdio")
                .field("command", command)
                .field("args", &format_args!("[{} hidden]", args.len()))
                .field("env", &env.iter().map(|(k, _)| k).collect::<Vec<_>>())
                .field("cwd", cwd)
                .finish(),
        }
    }
}

/// A URL without user info, query or fragment, which may carry credentials.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        Err(_) => "<invalid url>".to_owned(),
    }
}

impl ServerConfig {
    /// A required Streamable HTTP server with default approval rules: the toolbox
    /// behind `MCP_SERVER_URL`, or the embedded one.
    pub fn toolbox(url: String) -> Self {
        Self {
            name: TOOLBOX.to_owned(),
            transport: ServerTransport::Http {
                url,
                headers: Vec::new(),
            },
            disabled: false,
            required: true,
            approval: ApprovalRules::default(),
        }
    }
}

/// A configuration problem: which file, which server, which field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}{}: {problem}", file.display(), server.as_ref().map(|s| format!(": server \"{s}\"")).unwrap_or_default(), field.as_ref().map(|f| format!(": field \"{f}\"")).unwrap_or_default())]
pub struct ConfigError {
    pub file: PathBuf,
    pub server: Option<String>,
    pub field: Option<String>,
    pub problem: String,
}

/// Reads and checks `path`, expanding `${VAR}` from `env`.
pub fn load(path: &Path, env: &Environment) -> Result<McpConfig, ConfigError> {
    let fail = |problem: String| ConfigError {
        file: path.to_owned(),
        server: None,
        field: None,
        problem,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let root: Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("not valid JSON: {e}")))?;
    let Some(servers) = root.get("mcpServers") else {
        return Err(fail(
            "no \"mcpServers\" object, e.g. {\"mcpServers\": {\"name\": {\"url\": \"https://…\"}}}"
                .into(),
        ));
    };
    if !servers.is_object() {
        return Err(ConfigError {
            field: Some("mcpServers".into()),
            ..fail("must be an object of servers by name".into())
        });
    }
    // Read again for the servers in the file's order (a JSON object keeps none).
    let ordered: Ordered =
        serde_json::from_str(&text).map_err(|e| fail(format!("not valid JSON: {e}")))?;
    let mut config = McpConfig::default();
    for (name, entry) in &ordered.servers.0 {
        let server = Entry { path, name, env };
        if config.servers.iter().any(|s| s.name == *name) {
            return Err(server.error(None, "is defined twice"));
        }
        config.servers.push(server.parse(entry)?);
    }
    Ok(config)
}

/// The file's servers, in order.
#[derive(serde::Deserialize)]
struct Ordered {
    #[serde(rename = "mcpServers")]
    servers: InOrder,
}

/// A JSON object's entries in the order they were written.
struct InOrder(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for InOrder {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = InOrder;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<InOrder, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(InOrder(entries))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// One server entry being read, for error messages.
struct Entry<'a> {
    path: &'a Path,
    name: &'a str,
    env: &'a Environment,
}

impl Entry<'_> {
    fn error(&self, field: Option<&str>, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.path.to_owned(),
            server: Some(self.name.to_owned()),
            field: field.map(str::to_owned),
            problem: problem.into(),
        }
    }

    fn parse(&self, entry: &Value) -> Result<ServerConfig, ConfigError> {
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn load_text(text: &str, env: &[(&str, &str)]) -> Result<McpConfig, ConfigError> {
        let mut file = tempfile_in_target();
        file.1.write_all(text.as_bytes()).unwrap();
        let env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let result = load(&file.0, &env);
        let _ = std::fs::remove_file(&file.0);
        result
    }

    fn tempfile_in_target() -> (PathBuf, std::fs::File) {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "toolstream-mcp-{}-{}.json",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let file = std::fs::File::create(&path).unwrap();
        (path, file)
    }

    #[test]
    fn reads_http_and_stdio_servers_with_expansion() {
        let config = load_text(
            r#"{"mcpServers": {
                "remote": {"url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"},
                           "toolApproval": {"delete": "deny", "*": "ask"}, "required": true},
                "local": {"command": "npx", "args": ["-y", "pkg", "--key=${KEY:-none}"], "env": {"K": "${TOKEN}"}},
                "off": {"url": "http://127.0.0.1:1/mcp", "disabled": true}
            }, "globalShortcut": "ignored"}"#,
            &[("TOKEN", "t0k"), ("PATH", "/bin"), ("AWS_SECRET_ACCESS_KEY", "aws")],
        )
        .unwrap();
        let [remote, local, off] = &config.servers[..] else {
            panic!("three servers expected: {config:?}");
        };
        assert!(remote.required && !remote.disabled);
        assert_eq!(remote.approval.fallback, Some(ApprovalPolicy::Ask));
        match &remote.transport {
            ServerTransport::Http { url, headers } => {
                assert_eq!(url, "https://mcp.example.com/mcp");
                assert_eq!(headers[0].1.expose_secret(), "Bearer t0k");
            }
            other => panic!("{other:?}"),
        }
        match &local.transport {
            ServerTransport::Stdio {
                command, args, env, ..
            } => {
                assert_eq!(command, "npx");
                assert_eq!(args, &["-y", "pkg", "--key=none"]);
                let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
                // PATH is inherited, K configured; nothing else leaks through.
                assert_eq!(names, ["PATH", "K"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(off.disabled);
        // Debug output never shows secrets.
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("t0k") && !debug.contains("--key"),
            "{debug}"
        );
    }

    #[test]
    fn problems_name_the_file_the_server_and_the_field() {
        let cases = [
            (
                r#"{"mcpServers": {"a": {"url": 5}}}"#,
                Some("a"),
                Some("url"),
                "must be a string",
            ),
            (
                r#"{"mcpServers": {"a": {"url": "ftp://x"}}}"#,
                Some("a"),
                Some("url"),
                "http://",
            ),
            (
                r#"{"mcpServers": {"a": {"command": "x", "args": "y"}}}"#,
                Some("a"),
                Some("args"),
                "array",
            ),
            (
                r#"{"mcpServers": {"a": {"command": "x", "args": [1]}}}"#,
                Some("a"),
                Some("args[0]"),
                "string",
            ),
            (
                r#"{"mcpServers": {"a": {"url": "http://h/", "toolApproval": {"t": "maybe"}}}}"#,
                Some("a"),
                Some("toolApproval.t"),
                "\"ask\"",
            ),
            (
                r#"{"mcpServers": {"a": {"url": "http://h/", "headers": {"X": "${NOPE}"}}}}"#,
                Some("a"),
                Some("headers.X"),
                "NOPE",
            ),
            (
                r#"{"mcpServers": {"a": {"url": "http://h/", "colour": 1}}}"#,
                Some("a"),
                Some("colour"),
                "unknown field",
            ),
            (
                r#"{"mcpServers": {"a": {"type": "sse", "url": "http://h/"}}}"#,
                Some("a"),
                Some("type"),
                "not supported",
            ),
            (
                r#"{"mcpServers": {"a": {}}}"#,
                Some("a"),
                None,
                "needs \"url\"",
            ),
            (
                r#"{"mcpServers": {"a b": {"url": "http://h/"}}}"#,
                Some("a b"),
                None,
                "server names",
            ),
            (
                r#"{"mcpServers": {"a": {"url": "http://h/", "disabled": "yes"}}}"#,
                Some("a"),
                Some("disabled"),
                "true or false",
            ),
            (r#"{"servers": {}}"#, None, None, "mcpServers"),
            (r#"{"mcpServers": [}"#, None, None, "not valid JSON"),
        ];
        for (text, server, field, needle) in cases {
            let error = load_text(text, &[]).unwrap_err();
            assert_eq!(error.server.as_deref(), server, "{text}: {error}");
            assert_eq!(error.field.as_deref(), field, "{text}: {error}");
            let message = error.to_string();
            assert!(message.contains(needle), "{text}: {message}");
            assert!(
                message.contains("toolstream-mcp-"),
                "names the file: {message}"
            );
        }
    }

    #[test]
    fn urls_are_logged_without_credentials() {
        assert_eq!(
            redact_url("https://user:pw@h.example/mcp?key=s3cret#x"),
            "https://h.example/mcp"
        );
    }
}
