//! The REST agent: `/api/chat`, `/api/chat/stream`, errors and the OpenAPI document.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};

use crate::{
    fixtures::{SlowCalculator, ToolboxProcess},
    helpers::{TestApp, refused_address, spawn_app, spawn_app_with},
};

async fn post_chat(app: &TestApp, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(app.url("/api/chat"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn chat_answers_with_the_response_and_the_tool_calls() {
    let app = spawn_app().await;
    let (status, body) = post_chat(&app, json!({"message": "Suma 10 y 5"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"], "La suma de 10 y 5 es 15.");
    let calls = body["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{body}");
    assert_eq!(calls[0]["tool"], "add");
    assert_eq!(calls[0]["args"], json!({"a": 10, "b": 5}));
    assert_eq!(calls[0]["result"], "15");
    assert_eq!(calls[0]["server"], "toolbox");
    assert_eq!(body["steps"], 5);
    assert!(body["turn_id"].as_str().is_some_and(|id| !id.is_empty()));

    let (_, chained) = post_chat(&app, json!({"message": "(10 + 5) * 3"})).await;
    // The seed's fields of each call (call ids, servers and structured results added).
    let seed: Vec<Value> = chained["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| json!({"tool": c["tool"], "args": c["args"], "result": c["result"]}))
        .collect();
    assert_eq!(
        seed,
        [
            json!({"tool": "add", "args": {"a": 10, "b": 5}, "result": "15"}),
            json!({"tool": "multiply", "args": {"a": 15, "b": 3}, "result": "45"})
        ]
    );
    assert_eq!(
        chained["tool_calls"][1]["structured"],
        json!({"result": 45})
    );
    assert_eq!(chained["steps"], 7);

    let (_, failed) = post_chat(&app, json!({"message": "Divide 1 entre 0"})).await;
    assert_eq!(failed["tool_calls"][0]["is_error"], true);
}

#[tokio::test]
async fn bad_requests_get_400_and_413_with_json_errors() {
    let app = spawn_app_with(|s| {
        s.max_body_bytes = 1024;
        s.max_content_chars = 50;
    })
    .await;
    let client = reqwest::Client::new();
    let send = |body: &'static str, content_type: &'static str| {
        client
            .post(app.url("/api/chat"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    for (body, content_type) in [
        ("not json", "application/json"),
        ("{}", "application/json"),
        (r#"{"message": 5}"#, "application/json"),
        (r#"{"message": "   "}"#, "application/json"),
        (r#"["Suma 1 y 2"]"#, "application/json"),
        (r#"{"message": "Suma 1 y 2"}"#, "text/plain"),
    ] {
        let response = send(body, content_type).await.unwrap();
        assert_eq!(response.status(), 400, "{body} as {content_type}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], "invalid_request", "{body}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    let long = json!({"message": "x".repeat(51)});
    let (status, error) = post_chat(&app, long).await;
    assert_eq!((status, error["error"].as_str()), (413, Some("too_large")));
    let huge = json!({"message": "x".repeat(5000)});
    let (status, error) = post_chat(&app, huge).await;
    assert_eq!((status, error["error"].as_str()), (413, Some("too_large")));
}

#[tokio::test]
async fn upstream_failures_map_to_502_504_and_422() {
    let (_reserved, closed) = refused_address();
    let down = format!("http://{closed}/mcp");
    let app = spawn_app_with(|s| s.mcp_server_url = Some(down)).await;
    let (status, error) = post_chat(&app, json!({"message": "add 2 and 3"})).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (502, Some("toolbox_unavailable"))
    );
    assert!(
        error["message"].as_str().unwrap().contains("toolbox"),
        "{error}"
    );

    let slow = ToolboxProcess::start(
        SlowCalculator::new(Duration::from_secs(5)),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await;
    let app = spawn_app_with(|s| {
        s.mcp_server_url = Some(slow.url());
        s.tool_timeout = Duration::from_millis(100);
    })
    .await;
    let (status, error) = post_chat(&app, json!({"message": "add 2 and 3"})).await;
    assert_eq!((status, error["error"].as_str()), (504, Some("timeout")));
    slow.kill().await;

    let app = spawn_app_with(|s| s.max_iterations = 1).await;
    let (status, error) = post_chat(&app, json!({"message": "(1 + 2) * 3"})).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (422, Some("iteration_limit"))
    );
}

#[tokio::test]
async fn the_api_key_is_required_when_configured() {
    let app = spawn_app_with(|s| s.api_key = Some(SecretString::from("k3y".to_owned()))).await;
    let (status, error) = post_chat(&app, json!({"message": "add 2 and 3"})).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (401, Some("unauthorized"))
    );
    for (name, value) in [("authorization", "Bearer k3y"), ("x-api-key", "k3y")] {
        let response = reqwest::Client::new()
            .post(app.url("/api/chat"))
            .header(name, value)
            .json(&json!({"message": "add 2 and 3"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{name}");
    }
    // The document is public.
    assert_eq!(
        reqwest::get(app.url("/api/openapi.json"))
            .await
            .unwrap()
            .status(),
        200
    );
}

/// Parses an SSE body into (event name, data) pairs.
fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(rest) = line.strip_prefix("event:") {
                    name = Some(rest.trim().to_owned());
                } else if let Some(rest) = line.strip_prefix("data:") {
                    data = serde_json::from_str(rest.trim()).ok();
                }
            }
            Some((name?, data?))
        })
        .collect()
}

#[tokio::test]
async fn chat_stream_sends_the_websocket_events_as_sse() {
    let app = spawn_app().await;
    let response = reqwest::Client::new()
        .post(app.url("/api/chat/stream"))
        .json(&json!({"message": "Suma 100 y 50"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = sse_events(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "start",
            "step",
            "tool_call",
            "tool_result",
            "response",
            "complete"
        ]
    );
    for (name, data) in &events {
        assert_eq!(data["type"], name.as_str());
        assert!(data["turn_id"].is_string());
    }
    assert_eq!(events[2].1["args"], json!({"a": 100, "b": 50}));
    assert_eq!(events[3].1["result"], "150");
    assert_eq!(events[5].1["steps"], 5);
}

#[tokio::test]
async fn the_openapi_document_describes_the_api() {
    let app = spawn_app().await;
    let doc: Value = reqwest::get(app.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let chat = &doc["paths"]["/api/chat"]["post"];
    for status in ["200", "400", "401", "413", "422", "502", "503", "504"] {
        assert!(
            chat["responses"][status].is_object(),
            "/api/chat lacks {status}"
        );
    }
    assert!(doc["paths"]["/api/chat/stream"]["post"]["responses"]["200"]["content"]["text/event-stream"].is_object());
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["ChatRequest"]["required"], json!(["message"]));
    let response_fields = schemas["ChatResponse"]["properties"].as_object().unwrap();
    for field in ["response", "tool_calls", "steps", "turn_id"] {
        assert!(
            response_fields.contains_key(field),
            "ChatResponse lacks {field}"
        );
    }
}

#[tokio::test]
async fn cors_is_closed_unless_configured() {
    let preflight = |app: &TestApp, origin: &'static str| {
        reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, app.url("/api/chat"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let closed = spawn_app().await;
    let response = preflight(&closed, "https://app.example.com").await.unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let open =
        spawn_app_with(|s| s.cors_allowed_origins = vec!["https://app.example.com".into()]).await;
    let response = preflight(&open, "https://app.example.com").await.unwrap();
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let response = preflight(&open, "https://evil.example").await.unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}
