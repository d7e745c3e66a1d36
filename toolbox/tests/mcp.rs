//! The toolbox through real MCP clients over HTTP on a random port.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use std::net::SocketAddr;

use rmcp::{
    ServiceExt,
    model::{CallToolRequestParams, CallToolResult, ClientConfig},
    service::{RoleClient, RunningService},
    transport::StreamableHttpClientTransport,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use toolbox::AccessPolicy;

struct TestToolbox {
    addr: SocketAddr,
    shutdown: CancellationToken,
}

impl TestToolbox {
    async fn spawn(policy: AccessPolicy) -> Self {
        // reqwest has no TLS provider of its own when built with the server (which
        // picks ring): name it, or building an HTTP client panics.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let shutdown = CancellationToken::new();
        let app = toolbox::router(&policy, shutdown.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let token = shutdown.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(token.cancelled_owned())
                .await
                .unwrap();
        });
        Self { addr, shutdown }
    }

    fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    async fn client(&self) -> RunningService<RoleClient, ClientConfig> {
        let transport = StreamableHttpClientTransport::from_uri(self.url());
        ClientConfig::default()
            .serve(transport)
            .await
            .expect("client connects")
    }
}

impl Drop for TestToolbox {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn call(
    client: &RunningService<RoleClient, ClientConfig>,
    tool: &str,
    args: Value,
) -> CallToolResult {
    let args = args.as_object().cloned().expect("object");
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args))
        .await
        .expect("call succeeds at the protocol level")
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("")
}

#[tokio::test]
async fn lists_four_tools_with_schemas_and_descriptions() {
    let toolbox = TestToolbox::spawn(AccessPolicy::default()).await;
    let client = toolbox.client().await;
    let mut tools = client.list_all_tools().await.unwrap();
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(names, ["add", "divide", "multiply", "subtract"]);
    for tool in &tools {
        assert!(
            tool.description.as_deref().is_some_and(|d| d.len() > 10),
            "{}",
            tool.name
        );
        let schema = Value::Object((*tool.input_schema).clone());
        assert_eq!(schema["type"], "object", "{}", tool.name);
        assert_eq!(schema["properties"]["a"]["type"], "number");
        assert_eq!(schema["properties"]["b"]["type"], "number");
        assert_eq!(schema["required"], json!(["a", "b"]));
        assert_eq!(schema["additionalProperties"], json!(false));
    }
}

#[tokio::test]
async fn every_tool_computes() {
    let toolbox = TestToolbox::spawn(AccessPolicy::default()).await;
    let client = toolbox.client().await;
    let cases = [
        ("add", json!({"a": 10, "b": 5}), "15"),
        ("add", json!({"a": 0.1, "b": 0.2}), "0.30000000000000004"),
        ("subtract", json!({"a": 20, "b": 9}), "11"),
        ("subtract", json!({"a": -2.5, "b": 2.5}), "-5"),
        ("multiply", json!({"a": 6, "b": 7}), "42"),
        ("divide", json!({"a": 10, "b": 4}), "2.5"),
        ("divide", json!({"a": 12, "b": 4}), "3"),
    ];
    for (tool, args, expected) in cases {
        let result = call(&client, tool, args.clone()).await;
        assert_ne!(result.is_error, Some(true), "{tool} {args}");
        assert_eq!(text(&result), expected, "{tool} {args}");
    }
}

#[tokio::test]
async fn bad_calls_come_back_as_tool_errors() {
    let toolbox = TestToolbox::spawn(AccessPolicy::default()).await;
    let client = toolbox.client().await;
    let cases = [
        ("divide", json!({"a": 1, "b": 0}), "division by zero"),
        ("multiply", json!({"a": 1e308, "b": 1e308}), "too large"),
        ("add", json!({"a": 1}), "missing required argument \"b\""),
        ("add", json!({}), "missing required argument \"a\""),
        (
            "subtract",
            json!({"a": "10", "b": 2}),
            "\"a\" must be a number",
        ),
        (
            "multiply",
            json!({"a": 1, "b": null}),
            "\"b\" must be a number, got null",
        ),
        (
            "add",
            json!({"a": 1, "b": 2, "c": 3}),
            "unexpected argument \"c\"",
        ),
    ];
    for (tool, args, needle) in cases {
        let result = call(&client, tool, args.clone()).await;
        assert_eq!(result.is_error, Some(true), "{tool} {args}");
        let message = text(&result);
        assert!(message.contains(needle), "{tool} {args}: {message}");
    }
    // An unknown tool is a protocol error, and the session keeps working after it.
    let unknown = client.call_tool(CallToolRequestParams::new("sqrt")).await;
    assert!(unknown.is_err());
    assert_eq!(
        text(&call(&client, "add", json!({"a": 1, "b": 1})).await),
        "2"
    );
}

#[tokio::test]
async fn many_concurrent_calls_on_one_client() {
    let toolbox = TestToolbox::spawn(AccessPolicy::default()).await;
    let client = toolbox.client().await;
    let calls = (0..64).map(|i| {
        let client = &client;
        async move {
            (
                i,
                text(&call(client, "multiply", json!({"a": i, "b": 3})).await),
            )
        }
    });
    for (i, result) in futures::future::join_all(calls).await {
        assert_eq!(result, (i * 3).to_string());
    }
}

/// A raw JSON-RPC POST, as a client of either protocol revision sends it.
async fn post(url: &str, headers: &[(&str, &str)], body: Value) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.json(&body).send().await.expect("request sent")
}

/// Reads a JSON-RPC response whether it came as JSON or as an SSE stream.
async fn rpc_result(response: reqwest::Response) -> Value {
    let body = response.text().await.unwrap();
    body.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .chain(std::iter::once(body.as_str()))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|message| message.get("id").is_some())
        .unwrap_or_else(|| panic!("no JSON-RPC response in {body:?}"))
}

#[tokio::test]
async fn session_based_2025_11_25_clients_work() {
    let toolbox = TestToolbox::spawn(AccessPolicy::default()).await;
    let url = toolbox.url();
    let init = post(
        &url,
        &[],
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "legacy", "version": "1"}}}),
    )
    .await;
    assert_eq!(init.status(), 200);
    let session = init
        .headers()
        .get("mcp-session-id")
        .expect("a session id")
        .to_str()
        .unwrap()
        .to_owned();
    let init = rpc_result(init).await;
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25");

    let headers = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let initialized = post(
        &url,
        &headers,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(initialized.status(), 202);

    let result = rpc_result(
        post(
            &url,
            &headers,
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                   "params": {"name": "add", "arguments": {"a": 100, "b": 50}}}),
        )
        .await,
    )
    .await;
    assert_eq!(result["result"]["content"][0]["text"], "150");

    // Ending the session answers 204, and the session is gone afterwards.
    let ended = reqwest::Client::new()
        .delete(&url)
        .header("mcp-session-id", session.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 204);
    let after = post(
        &url,
        &headers,
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}),
    )
    .await;
    assert_eq!(after.status(), 404);
}

#[tokio::test]
async fn stateless_2026_07_28_clients_work() {
    let toolbox = TestToolbox::spawn(AccessPolicy::default()).await;
    let response = post(
        &toolbox.url(),
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "divide"),
        ],
        json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": "divide", "arguments": {"a": 10, "b": 4},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "modern", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {}
        }}}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("mcp-session-id").is_none());
    let result = rpc_result(response).await;
    assert_eq!(result["result"]["content"][0]["text"], "2.5");
}

fn list_tools_body() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}})
}

#[tokio::test]
async fn service_names_are_refused_unless_allowed() {
    // By default only loopback names pass the DNS-rebinding guard.
    let strict = TestToolbox::spawn(AccessPolicy::default()).await;
    let refused = post(
        &strict.url(),
        &[("host", "toolbox:8000")],
        list_tools_body(),
    )
    .await;
    assert_eq!(refused.status(), 403);

    // Compose and Kubernetes reach the toolbox by service name: configure it.
    let policy = AccessPolicy {
        allowed_hosts: vec!["toolbox".into(), "localhost".into()],
        ..AccessPolicy::default()
    };
    let open = TestToolbox::spawn(policy).await;
    let accepted = post(&open.url(), &[("host", "toolbox:8000")], list_tools_body()).await;
    assert_eq!(accepted.status(), 200);
    let other = post(&open.url(), &[("host", "evil.example")], list_tools_body()).await;
    assert_eq!(other.status(), 403);

    // A real client addressing the toolbox by that name works end to end.
    let any = TestToolbox::spawn(AccessPolicy {
        allowed_hosts: vec!["*".into()],
        ..AccessPolicy::default()
    })
    .await;
    let ok = post(
        &any.url(),
        &[("host", "anything.internal")],
        list_tools_body(),
    )
    .await;
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn foreign_browser_origins_are_refused() {
    let toolbox = TestToolbox::spawn(AccessPolicy {
        allowed_origins: vec!["https://app.example.com:443".into()],
        ..AccessPolicy::default()
    })
    .await;
    let foreign = post(
        &toolbox.url(),
        &[("origin", "https://evil.example")],
        list_tools_body(),
    )
    .await;
    assert_eq!(foreign.status(), 403);
    let allowed = post(
        &toolbox.url(),
        &[("origin", "https://app.example.com")],
        list_tools_body(),
    )
    .await;
    assert_eq!(allowed.status(), 200);
    let none = post(&toolbox.url(), &[], list_tools_body()).await;
    assert_eq!(none.status(), 200);
}

#[tokio::test]
async fn health_answers() {
    let toolbox = TestToolbox::spawn(AccessPolicy::default()).await;
    let body: Value = reqwest::get(format!("http://{}/health", toolbox.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "ok");
}
