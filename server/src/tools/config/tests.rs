//! Reading `mcp.json`: what is accepted, and how each mistake is reported.

use std::io::Write;

use secrecy::ExposeSecret;

use super::*;
use crate::tools::policy::ApprovalPolicy;

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

#[test]
fn secrets_are_the_values_that_must_never_be_logged() {
    let config = load_text(
        r#"{"mcpServers": {
            "remote": {"url": "https://u:pw-123456@h.example/mcp?key=${TOKEN}", "headers": {"Authorization": "Bearer ${TOKEN}"}},
            "local": {"command": "x", "env": {"K": "local-secret"}}
        }}"#,
        &[("TOKEN", "t0ken-abcdef"), ("PATH", "/usr/bin")],
    )
    .unwrap();
    let secrets = config.secrets();
    for wanted in [
        "Bearer t0ken-abcdef",
        "t0ken-abcdef",
        "pw-123456",
        "local-secret",
    ] {
        assert!(
            secrets.iter().any(|s| s == wanted),
            "{wanted} missing from {secrets:?}"
        );
    }
    assert!(
        !secrets.iter().any(|s| s == "/usr/bin"),
        "inherited PATH is no secret"
    );
}
