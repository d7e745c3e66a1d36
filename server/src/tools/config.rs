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
use serde_json::Value;

use super::{expand::Environment, policy::ApprovalRules};

mod entry;
#[cfg(test)]
mod tests;

use entry::Entry;

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

impl McpConfig {
    /// Sends `Authorization: Bearer <key>` to the first server (the embedded toolbox,
    /// whose `/mcp` wants the server's API key like every public route).
    pub fn authorize_first(&mut self, key: SecretString) {
        if let Some(ServerConfig {
            transport: ServerTransport::Http { headers, .. },
            ..
        }) = self.servers.first_mut()
        {
            let value = format!("Bearer {}", secrecy::ExposeSecret::expose_secret(&key));
            headers.push(("Authorization".into(), SecretString::from(value)));
        }
    }

    /// The values that must never be logged: header values, `env` values that the
    /// file sets (not the inherited ones), and URL passwords and query values.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = Vec::new();
        for server in &self.servers {
            match &server.transport {
                ServerTransport::Http { url, headers } => {
                    secrets.extend(headers.iter().map(|(_, v)| v.expose_secret().to_owned()));
                    // The bearer token alone, too, in case a library logs it apart.
                    secrets.extend(headers.iter().filter_map(|(_, v)| {
                        let value = v.expose_secret();
                        value.split_once(' ').map(|(_, token)| token.to_owned())
                    }));
                    if let Ok(parsed) = reqwest::Url::parse(url) {
                        secrets.extend(parsed.password().map(str::to_owned));
                        secrets.extend(parsed.query_pairs().map(|(_, v)| v.into_owned()));
                    }
                }
                ServerTransport::Stdio { env, .. } => secrets.extend(
                    env.iter()
                        .filter(|(k, _)| !INHERITED_ENV.contains(&k.as_str()))
                        .map(|(_, v)| v.expose_secret().to_owned()),
                ),
            }
        }
        secrets
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
