//! The MCP host against real servers none of us wrote: the "everything" reference
//! server over stdio and Streamable HTTP, a Python SDK server over stdio, and our
//! toolbox over HTTP, all at once. Every tool call goes through the normal agent path,
//! driven by the local planner's `/call`.

use std::time::{Duration, Instant};

use protocol::{ContentItem, ServerEvent, ToolDescriptor};
use serde_json::{Value, json};

use crate::{
    fixtures::{SlowCalculator, ToolboxProcess},
    helpers::{TestApp, WsClient, kinds, spawn_app_with},
    mcp_servers::{
        EverythingHttp, everything_stdio, kill_pid, probe_stdio, test_env, write_config,
    },
};

async fn app_with(servers: Value) -> TestApp {
    let path = write_config(servers);
    spawn_app_with(move |s| {
        s.mcp_config = Some(path);
        s.mcp_env = Some(test_env());
    })
    .await
}

async fn toolbox() -> ToolboxProcess {
    ToolboxProcess::start(
        SlowCalculator::new(Duration::ZERO),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
}

/// The tools a fresh connection's `ready` lists.
async fn ready_tools(app: &TestApp) -> Vec<ToolDescriptor> {
    let mut client = app.connect_raw().await;
    match client.next_event().await {
        ServerEvent::Ready { tools, .. } => tools,
        other => panic!("expected ready, got {other:?}"),
    }
}

/// Runs `/call <tool> <args>` and returns the turn's events.
async fn call(client: &mut WsClient, tool: &str, args: Value) -> Vec<ServerEvent> {
    client.turn(&format!("/call {tool} {args}")).await
}

/// The one `tool_result` of `events`: (result, is_error, structured, content).
fn result_of(events: &[ServerEvent]) -> (String, bool, Option<Value>, Vec<ContentItem>) {
    events
        .iter()
        .find_map(|e| match e {
            ServerEvent::ToolResult {
                result,
                is_error,
                structured,
                content,
                ..
            } => Some((
                result.clone(),
                *is_error,
                structured.clone(),
                content.clone(),
            )),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no tool_result in {events:?}"))
}

#[tokio::test]
async fn tools_of_every_server_are_listed_and_shared_names_are_qualified() {
    let http = EverythingHttp::start(0).await;
    let calc = toolbox().await;
    let app = app_with(json!({
        "everything_stdio": everything_stdio(),
        "everything_http": { "url": http.url() },
        "calc_a": { "url": calc.url() },
        "calc_b": { "url": calc.url() },
        "probe": probe_stdio(),
    }))
    .await;
    app.wait_servers(
        &[
            "everything_stdio",
            "everything_http",
            "calc_a",
            "calc_b",
            "probe",
        ],
        "ready",
    )
    .await;

    let tools = ready_tools(&app).await;
    let server_of = |name: &str| {
        tools
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| {
                panic!(
                    "{name} is not listed: {:?}",
                    tools.iter().map(|t| &t.name).collect::<Vec<_>>()
                )
            })
            .server
            .clone()
    };
    // Offered by two servers: both qualified, the bare name gone.
    assert_eq!(server_of("calc_a__add").as_deref(), Some("calc_a"));
    assert_eq!(server_of("calc_b__add").as_deref(), Some("calc_b"));
    assert_eq!(
        server_of("everything_stdio__echo").as_deref(),
        Some("everything_stdio")
    );
    assert_eq!(
        server_of("everything_http__echo").as_deref(),
        Some("everything_http")
    );
    assert!(!tools.iter().any(|t| t.name == "add" || t.name == "echo"));
    // Offered once: kept as the server names it.
    assert_eq!(server_of("wait").as_deref(), Some("probe"));

    // `/tools` lists them with their servers.
    let mut client = app.connect().await;
    let events = client.turn("/tools").await;
    assert_eq!(kinds(&events), ["start", "step", "response", "complete"]);
    let ServerEvent::Response { content } = &events[2] else {
        panic!("{events:?}");
    };
    assert!(
        content.contains("- everything_http__echo (everything_http): "),
        "{content}"
    );
    assert!(
        content.contains("- calc_b__add (calc_b): Add two numbers"),
        "{content}"
    );
    assert!(content.contains("- wait (probe): "), "{content}");
}

#[tokio::test]
async fn call_runs_any_tool_through_each_transport_with_rich_results() {
    let http = EverythingHttp::start(0).await;
    let calc = toolbox().await;
    let app = app_with(json!({
        "everything_stdio": everything_stdio(),
        "everything_http": { "url": http.url() },
        "calc": { "url": calc.url() },
    }))
    .await;
    app.wait_servers(&["everything_stdio", "everything_http", "calc"], "ready")
        .await;
    let mut client = app.connect().await;

    // Our toolbox over HTTP: the seed's text result plus its structured content.
    let events = call(&mut client, "add", json!({"a": 10, "b": 5})).await;
    assert_eq!(
        kinds(&events),
        [
            "start",
            "step",
            "tool_call",
            "tool_result",
            "response",
            "complete"
        ]
    );
    let (
        ServerEvent::ToolCall {
            call_id, server, ..
        },
        ServerEvent::ToolResult {
            call_id: result_id, ..
        },
    ) = (&events[2], &events[3])
    else {
        panic!("{events:?}");
    };
    assert_eq!(server.as_deref(), Some("calc"));
    assert!(
        call_id.as_ref().is_some_and(|id| id.len() >= 32),
        "{call_id:?}"
    );
    assert_eq!(call_id, result_id);
    let (result, is_error, structured, _) = result_of(&events);
    assert_eq!((result.as_str(), is_error), ("15", false));
    assert_eq!(structured, Some(json!({"result": 15})));
    assert!(
        matches!(&events[4], ServerEvent::Response { content } if content.ends_with(": 15")),
        "{events:?}"
    );

    // The everything server over stdio and over HTTP.
    for server in ["everything_stdio", "everything_http"] {
        let events = call(
            &mut client,
            &format!("{server}__get-sum"),
            json!({"a": 2, "b": 3}),
        )
        .await;
        let (result, is_error, _, _) = result_of(&events);
        assert_eq!(result, "The sum of 2 and 3 is 5.", "{server}");
        assert!(!is_error);
        assert_eq!(events.last().unwrap().kind(), "complete");
    }

    // Structured content (with its output schema), an image, resource links.
    let events = call(
        &mut client,
        "everything_stdio__get-structured-content",
        json!({"location": "Chicago"}),
    )
    .await;
    let (_, _, structured, _) = result_of(&events);
    assert_eq!(
        structured,
        Some(json!({"temperature": 36, "conditions": "Light rain / drizzle", "humidity": 82}))
    );
    let events = call(&mut client, "everything_http__get-tiny-image", json!({})).await;
    let (result, _, _, content) = result_of(&events);
    assert!(
        result.contains("Here's the image you requested:"),
        "{result}"
    );
    assert!(
        matches!(&content[..], [ContentItem::Image { mime_type, data }] if mime_type == "image/png" && data.len() > 100),
        "{content:?}"
    );
    let events = call(
        &mut client,
        "everything_stdio__get-resource-links",
        json!({"count": 2}),
    )
    .await;
    let (_, _, _, content) = result_of(&events);
    assert_eq!(content.len(), 2, "{content:?}");
    assert!(
        content.iter().all(
            |c| matches!(c, ContentItem::ResourceLink { uri, .. } if uri.starts_with("demo://"))
        ),
        "{content:?}"
    );

    // A tool-level error comes back as an error result, and the turn completes.
    let events = call(&mut client, "everything_http__get-sum", json!({"a": "two"})).await;
    let (_, is_error, _, _) = result_of(&events);
    assert!(is_error, "{events:?}");
    assert_eq!(events.last().unwrap().kind(), "complete");
}

#[tokio::test]
async fn progress_is_streamed_and_stop_cancels_the_call_at_the_server() {
    let app = app_with(json!({ "everything": everything_stdio(), "probe": probe_stdio() })).await;
    app.wait_servers(&["everything", "probe"], "ready").await;
    let mut client = app.connect().await;

    for (tool, args) in [
        (
            "trigger-long-running-operation",
            json!({"duration": 60, "steps": 120}),
        ),
        ("wait", json!({"seconds": 60})),
    ] {
        client.say(&format!("/call {tool} {args}")).await;
        let events = client
            .until(|e| matches!(e, ServerEvent::ToolProgress { .. }))
            .await;
        let call_id = events.iter().find_map(|e| match e {
            ServerEvent::ToolCall { call_id, .. } => call_id.clone(),
            _ => None,
        });
        let Some(ServerEvent::ToolProgress {
            call_id: progress_id,
            tool: progress_tool,
            total,
            ..
        }) = events.last()
        else {
            panic!("{events:?}");
        };
        assert_eq!(Some(progress_id.clone()), call_id);
        assert_eq!(progress_tool, tool);
        assert!(total.is_some(), "{events:?}");

        // Stop: the turn ends at once, without waiting for the tool (a minute).
        let stopped = Instant::now();
        client.send_json(json!({"type": "cancel"})).await;
        let rest = client.until(ServerEvent::is_terminal).await;
        assert_eq!(rest.last(), Some(&ServerEvent::Cancelled {}), "{rest:?}");
        assert!(
            stopped.elapsed() < Duration::from_secs(1),
            "{:?}",
            stopped.elapsed()
        );
    }

    // The Python server saw `notifications/cancelled`: its tool was interrupted.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = call(&mut client, "cancellations", json!({})).await;
        let (result, _, _, _) = result_of(&events);
        if result != "none" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server never saw the cancellation"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_killed_stdio_server_restarts_while_the_others_keep_serving() {
    let calc = toolbox().await;
    let app = app_with(json!({ "probe": probe_stdio(), "calc": { "url": calc.url() } })).await;
    app.wait_servers(&["probe", "calc"], "ready").await;
    let mut client = app.connect().await;
    let (first_pid, _, _, _) = result_of(&call(&mut client, "pid", json!({})).await);

    kill_pid(&first_pid);
    // The other server serves on while the probe is down.
    let (sum, _, _, _) = result_of(&call(&mut client, "add", json!({"a": 1, "b": 2})).await);
    assert_eq!(sum, "3");
    // It is restarted (with backoff) and its tools come back.
    app.wait_servers(&["probe"], "ready").await;
    let (second_pid, _, _, _) = result_of(&call(&mut client, "pid", json!({})).await);
    assert_ne!(first_pid, second_pid);
    let (sum, _, _, _) = result_of(&call(&mut client, "add", json!({"a": 2, "b": 2})).await);
    assert_eq!(sum, "4");
}

#[tokio::test]
async fn a_killed_http_server_is_reconnected_when_it_returns() {
    let http = EverythingHttp::start(0).await;
    let calc = toolbox().await;
    let app =
        app_with(json!({ "everything": { "url": http.url() }, "calc": { "url": calc.url() } }))
            .await;
    app.wait_servers(&["everything", "calc"], "ready").await;
    let mut client = app.connect().await;
    let (sum, _, _, _) = result_of(&call(&mut client, "get-sum", json!({"a": 1, "b": 1})).await);
    assert_eq!(sum, "The sum of 1 and 1 is 2.");

    let port = http.kill().await;
    // Readiness notices, the server is optional so the service stays ready, and the
    // other server still answers.
    app.wait_servers(&["everything"], "down").await;
    let ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let (sum, _, _, _) = result_of(&call(&mut client, "add", json!({"a": 1, "b": 2})).await);
    assert_eq!(sum, "3");

    let restarted = EverythingHttp::start(port).await;
    app.wait_servers(&["everything"], "ready").await;
    let (sum, _, _, _) = result_of(&call(&mut client, "get-sum", json!({"a": 2, "b": 2})).await);
    assert_eq!(sum, "The sum of 2 and 2 is 4.");
    restarted.kill().await;
}

#[tokio::test]
async fn a_changed_tool_list_reaches_connected_clients() {
    let app = app_with(json!({ "probe": probe_stdio() })).await;
    app.wait_servers(&["probe"], "ready").await;
    let mut watcher = app.connect().await;
    let mut client = app.connect().await;

    let (added, _, _, _) =
        result_of(&call(&mut client, "add_tool", json!({"name": "late_tool"})).await);
    assert_eq!(added, "added late_tool");
    let events = watcher
        .until(|e| matches!(e, ServerEvent::ToolsChanged { tools } if tools.iter().any(|t| t.name == "late_tool")))
        .await;
    let Some(ServerEvent::ToolsChanged { tools }) = events.last() else {
        unreachable!()
    };
    let late = tools.iter().find(|t| t.name == "late_tool").unwrap();
    assert_eq!(late.server.as_deref(), Some("probe"));
    assert_eq!(late.description, "Added at run time");

    let (result, _, _, _) = result_of(&call(&mut client, "late_tool", json!({})).await);
    assert_eq!(result, "late_tool is here");
}

/// A model that calls a tool nobody offers, then answers.
struct Inventor(server::llm::LlmInfo);

#[async_trait::async_trait]
impl server::llm::Llm for Inventor {
    fn info(&self) -> &server::llm::LlmInfo {
        &self.0
    }

    async fn complete(
        &self,
        request: server::llm::LlmRequest<'_>,
        _stream: &mut dyn server::llm::TextSink,
    ) -> Result<server::llm::LlmReply, server::llm::LlmError> {
        let answered = request
            .messages
            .iter()
            .any(|m| matches!(m, server::llm::ChatMessage::ToolResults(_)));
        Ok(if answered {
            server::llm::LlmReply::text("done")
        } else {
            server::llm::LlmReply {
                text: String::new(),
                tool_calls: vec![server::llm::ToolCall::new(
                    "c1",
                    "invented_tool_42",
                    Default::default(),
                )],
                usage: None,
            }
        })
    }
}

#[tokio::test]
async fn invented_tool_names_are_one_metric_label() {
    let llm = Inventor(server::llm::LlmInfo {
        provider: "test".into(),
        model: "inventor".into(),
        label: "Inventor".into(),
    });
    let app = crate::helpers::spawn_app_with_llm(std::sync::Arc::new(llm), |_| {}).await;
    let mut client = app.connect().await;
    let events = client.turn("anything").await;
    let (result, is_error, _, _) = result_of(&events);
    assert!(
        is_error && result.contains("unknown tool \"invented_tool_42\""),
        "{result}"
    );
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"toolstream_tool_call_duration_seconds_count{tool="unknown",outcome="tool_error"} 1"#
        ),
        "{metrics}"
    );
    assert!(!metrics.contains("invented_tool_42"));
}

/// Whether `pid` runs (a zombie has ended).
fn running(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
        .map(|stat| !stat.contains(") Z "))
        .unwrap_or(false)
}

#[tokio::test]
async fn stdio_servers_stop_when_the_server_stops() {
    let app = app_with(json!({ "probe": probe_stdio() })).await;
    app.wait_servers(&["probe"], "ready").await;
    let mut client = app.connect().await;
    let (pid, _, _, _) = result_of(&call(&mut client, "pid", json!({})).await);
    assert!(running(&pid));
    drop(client);
    drop(app); // shuts the server down
    let deadline = Instant::now() + Duration::from_secs(15);
    while running(&pid) {
        assert!(
            Instant::now() < deadline,
            "the stdio server outlived the server"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
