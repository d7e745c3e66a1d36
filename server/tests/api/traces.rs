//! OpenTelemetry traces as an operator gets them: the real `server` binary with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set, exporting over OTLP/HTTP to a receiver on
//! loopback that decodes the protobuf; a fake OpenAI-compatible model reporting
//! usage; and an MCP toolbox that records the trace context it receives.

use std::sync::{Arc, Mutex};

use axum::{
    body::{Body, to_bytes},
    extract::Request,
    middleware::Next,
    response::Response,
};
use protocol::{ErrorCode, ServerEvent};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use serde_json::Value;

use crate::{
    fake_openai::{FakeOpenAi, error_status, text_answer, tool_call, with_usage},
    fake_otlp::{Attr, FakeOtlp, Received},
    helpers::{assert_error, kinds},
    process::ServerProcess,
};

const MODEL: &str = "llama3.1:8b";
const OTEL_KEY: &str = "otel-s3cret-key-42";

/// What the toolbox saw of one `tools/call`: its `traceparent` header and the
/// `_meta.traceparent` of its params.
#[derive(Debug, Clone)]
struct SeenCall {
    header: Option<String>,
    meta: Option<String>,
}

/// The production calculator over Streamable HTTP, behind a layer that records the
/// trace context of each `tools/call` request.
async fn recording_toolbox() -> (String, Arc<Mutex<Vec<SeenCall>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let service = StreamableHttpService::new(
        || Ok(toolbox::Calculator::new()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default()
            .with_json_response(true)
            .with_sse_keep_alive(None),
    );
    let record = seen.clone();
    let router =
        axum::Router::new()
            .nest_service("/mcp", service)
            .layer(axum::middleware::from_fn(
                move |request: Request, next: Next| {
                    let record = record.clone();
                    async move { remember(request, next, record).await }
                },
            ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, seen)
}

async fn remember(request: Request, next: Next, seen: Arc<Mutex<Vec<SeenCall>>>) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, 1 << 20).await.unwrap_or_default();
    let message: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if message["method"] == "tools/call" {
        let header = parts
            .headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let meta = message["params"]["_meta"]["traceparent"]
            .as_str()
            .map(str::to_owned);
        seen.lock().unwrap().push(SeenCall { header, meta });
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn str_attr(span: &Received, key: &str) -> Option<String> {
    match span.attributes().get(key) {
        Some(Attr::Str(value)) => Some(value.clone()),
        _ => None,
    }
}

fn int_attr(span: &Received, key: &str) -> Option<i64> {
    match span.attributes().get(key) {
        Some(Attr::Int(value)) => Some(*value),
        _ => None,
    }
}

/// The spans of one trace.
fn trace_of<'a>(spans: &'a [Received], trace_id: &str) -> Vec<&'a Received> {
    spans.iter().filter(|s| s.trace_id() == trace_id).collect()
}

const ERROR: i32 = 2;
const CLIENT: i32 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_turn_is_a_trace_with_genai_spans_and_the_mcp_server_joins_it() {
    let receiver = FakeOtlp::start().await;
    let (toolbox_url, seen) = recording_toolbox().await;
    let fake = FakeOpenAi::start(vec![
        // Turn 1: a tool call, then the answer.
        with_usage(
            tool_call("call_1", "add", &[r#"{"a": 10, "b": 5}"#]),
            1234,
            56,
        ),
        with_usage(text_answer(&["La suma de 10 y 5 es 15."]), 1300, 20),
        // Turn 2: a tool that fails, then the answer.
        with_usage(
            tool_call("call_2", "divide", &[r#"{"a": 1, "b": 0}"#]),
            10,
            5,
        ),
        with_usage(text_answer(&["No se puede dividir entre cero."]), 30, 7),
        // Turn 3: the model refuses.
        error_status(400, "this request is not valid"),
    ])
    .await;
    let headers = format!("authorization=Bearer%20{OTEL_KEY}");
    let mut server = ServerProcess::start(&[
        ("LOG_FORMAT", "json"),
        ("LLM_PROVIDER", "openai"),
        ("OPENAI_BASE_URL", &fake.base_url),
        ("OPENAI_MODEL", MODEL),
        ("MCP_SERVER_URL", &toolbox_url),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint),
        ("OTEL_EXPORTER_OTLP_HEADERS", &headers),
        ("OTEL_SERVICE_NAME", "toolstream-test"),
        // The SDK's batch delay, so spans arrive within the test's patience.
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ])
    .await;
    server.wait_healthy().await;
    let mut client = server.connect(&[]).await;
    // `connect` read `ready`; the session id comes with the first turn's frames.
    client.say("Suma 10 y 5").await;
    let first = client.collect_turn().await;
    assert_eq!(first.last().unwrap().kind(), "complete", "{first:?}");
    let second = client.turn("Divide 1 entre 0").await;
    assert_eq!(second.last().unwrap().kind(), "complete", "{second:?}");
    let third = client.turn("¿Y ahora?").await;
    assert_error(third.last().unwrap(), ErrorCode::LlmUnavailable, "");
    assert_eq!(kinds(&third), ["start", "step", "error"]);

    let spans = receiver
        .wait_for("three turns", |spans| {
            spans
                .iter()
                .filter(|s| s.name() == "invoke_agent toolstream")
                .count()
                == 3
                && spans
                    .iter()
                    .filter(|s| s.name().starts_with("chat "))
                    .count()
                    == 5
                && spans
                    .iter()
                    .filter(|s| s.name().starts_with("execute_tool "))
                    .count()
                    == 2
        })
        .await;
    let agents: Vec<&Received> = spans
        .iter()
        .filter(|s| s.name() == "invoke_agent toolstream")
        .collect();
    let ordered = {
        let mut agents = agents.clone();
        agents.sort_by_key(|s| s.span.start_time_unix_nano);
        agents
    };
    // One trace per turn: three distinct traces, each rooted at its invoke_agent.
    let mut traces: Vec<String> = ordered.iter().map(|s| s.trace_id()).collect();
    traces.dedup();
    assert_eq!(traces.len(), 3, "turns share a trace");
    for agent in &ordered {
        assert_eq!(agent.parent_id(), "", "invoke_agent is a root span");
        assert_eq!(agent.service, "toolstream-test");
        assert_eq!(
            str_attr(agent, "gen_ai.operation.name").as_deref(),
            Some("invoke_agent")
        );
        assert_eq!(
            str_attr(agent, "gen_ai.agent.name").as_deref(),
            Some("toolstream")
        );
        assert_eq!(
            str_attr(agent, "gen_ai.provider.name").as_deref(),
            Some("openai")
        );
        assert_eq!(
            str_attr(agent, "gen_ai.request.model").as_deref(),
            Some(MODEL)
        );
        // Every other span of the trace is its child.
        for child in trace_of(&spans, &agent.trace_id()) {
            if child.span_id() != agent.span_id() {
                assert_eq!(child.parent_id(), agent.span_id(), "{}", child.name());
            }
        }
    }
    // All three turns belong to one conversation, named by its session id.
    let conversation = str_attr(ordered[0], "gen_ai.conversation.id").expect("conversation id");
    assert!(
        conversation.len() >= 16 && conversation.bytes().all(|b| b.is_ascii_hexdigit()),
        "{conversation}"
    );
    for agent in &ordered {
        assert_eq!(
            str_attr(agent, "gen_ai.conversation.id"),
            Some(conversation.clone())
        );
    }

    // Turn 1: two model calls and one tool call, with their usage.
    let turn1 = trace_of(&spans, &ordered[0].trace_id());
    assert_eq!(
        int_attr(ordered[0], "gen_ai.usage.input_tokens"),
        Some(2534)
    );
    assert_eq!(int_attr(ordered[0], "gen_ai.usage.output_tokens"), Some(76));
    assert_eq!(
        str_attr(ordered[0], "toolstream.turn.outcome").as_deref(),
        Some("complete")
    );
    assert_ne!(ordered[0].status(), ERROR);
    let mut chats: Vec<&&Received> = turn1
        .iter()
        .filter(|s| s.name() == format!("chat {MODEL}"))
        .collect();
    chats.sort_by_key(|s| s.span.start_time_unix_nano);
    assert_eq!(chats.len(), 2);
    for chat in &chats {
        assert_eq!(chat.span.kind, CLIENT);
        assert_eq!(
            str_attr(chat, "gen_ai.operation.name").as_deref(),
            Some("chat")
        );
        assert_eq!(str_attr(chat, "gen_ai.system").as_deref(), Some("openai"));
        assert_eq!(
            str_attr(chat, "gen_ai.request.model").as_deref(),
            Some(MODEL)
        );
    }
    assert_eq!(int_attr(chats[0], "gen_ai.usage.input_tokens"), Some(1234));
    assert_eq!(int_attr(chats[0], "gen_ai.usage.output_tokens"), Some(56));
    assert_eq!(int_attr(chats[1], "gen_ai.usage.input_tokens"), Some(1300));
    let tool = turn1
        .iter()
        .find(|s| s.name() == "execute_tool add")
        .expect("the tool call's span");
    assert_eq!(
        str_attr(tool, "gen_ai.operation.name").as_deref(),
        Some("execute_tool")
    );
    assert_eq!(str_attr(tool, "gen_ai.tool.name").as_deref(), Some("add"));
    assert_eq!(
        str_attr(tool, "gen_ai.tool.call.id").as_deref(),
        Some("call_1")
    );
    assert_eq!(
        str_attr(tool, "toolstream.tool.outcome").as_deref(),
        Some("ok")
    );
    assert_ne!(tool.status(), ERROR);
    // The tool call sits between the two model calls.
    assert!(tool.span.start_time_unix_nano >= chats[0].span.end_time_unix_nano);
    assert!(tool.span.end_time_unix_nano <= chats[1].span.start_time_unix_nano);

    // The MCP server received the tool span's context, as a header and in `_meta`.
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 2, "{calls:?}");
    let expected = format!("00-{}-{}-01", tool.trace_id(), tool.span_id());
    assert_eq!(calls[0].header.as_deref(), Some(expected.as_str()));
    assert_eq!(calls[0].meta.as_deref(), Some(expected.as_str()));

    // Turn 2: the tool's failure is the tool span's error; the turn still completes.
    let turn2 = trace_of(&spans, &ordered[1].trace_id());
    let divide = turn2
        .iter()
        .find(|s| s.name() == "execute_tool divide")
        .expect("the failing tool's span");
    assert_eq!(divide.status(), ERROR);
    assert_eq!(
        str_attr(divide, "error.type").as_deref(),
        Some("tool_error")
    );
    assert_ne!(ordered[1].status(), ERROR);
    let divide_context = format!("00-{}-{}-01", divide.trace_id(), divide.span_id());
    assert_eq!(calls[1].header.as_deref(), Some(divide_context.as_str()));

    // Turn 3: the model call failed, and so did the turn.
    let turn3 = trace_of(&spans, &ordered[2].trace_id());
    let chat = turn3
        .iter()
        .find(|s| s.name().starts_with("chat "))
        .expect("the failed model call's span");
    assert_eq!(chat.status(), ERROR);
    assert_eq!(
        str_attr(chat, "error.type").as_deref(),
        Some("llm_unavailable")
    );
    assert_eq!(ordered[2].status(), ERROR);
    assert_eq!(
        str_attr(ordered[2], "error.type").as_deref(),
        Some("llm_unavailable")
    );
    assert_eq!(
        str_attr(ordered[2], "toolstream.turn.outcome").as_deref(),
        Some("error")
    );

    // The exporter sent protobuf with the configured headers.
    let exports = receiver.headers();
    assert!(!exports.is_empty());
    for headers in &exports {
        assert_eq!(headers["content-type"], "application/x-protobuf");
        assert_eq!(
            headers["authorization"],
            format!("Bearer {OTEL_KEY}").as_str()
        );
    }

    // Logs: never the exporter's key, and never the conversation id (traces only).
    server.sigterm();
    assert!(server.wait_exit().await.success());
    let lines = server.log_lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("exporting OpenTelemetry traces")),
        "no startup line about traces"
    );
    for line in &lines {
        assert!(
            !line.contains(OTEL_KEY),
            "a log line leaks the OTLP key: {line}"
        );
        assert!(
            !line.contains(&conversation),
            "a log line names the conversation: {line}"
        );
        assert!(
            !line.contains("gen_ai."),
            "a trace span reached the logs: {line}"
        );
    }
    // The first turn's events came back over the WebSocket as usual.
    assert!(matches!(first.last(), Some(ServerEvent::Complete { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_still_buffered_are_sent_when_the_server_stops() {
    let receiver = FakeOtlp::start().await;
    let mut server = ServerProcess::start(&[
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            &format!("{}/v1/traces", receiver.endpoint),
        ),
        // A delay the test never waits for: only the shutdown flush can send them.
        ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
    ])
    .await;
    server.wait_healthy().await;
    let mut client = server.connect(&[]).await;
    let events = client.turn("Suma 10 y 5").await;
    assert_eq!(events.last().unwrap().kind(), "complete");
    assert!(receiver.spans().is_empty(), "exported before the delay");
    server.sigterm();
    assert!(server.wait_exit().await.success());
    let spans = receiver.spans();
    let agent = spans
        .iter()
        .find(|s| s.name() == "invoke_agent toolstream")
        .expect("the turn's span, flushed at shutdown");
    assert_eq!(agent.service, "toolstream");
    assert_eq!(
        str_attr(agent, "gen_ai.provider.name").as_deref(),
        Some("toolstream.local")
    );
    // The local planner reports no usage.
    assert_eq!(int_attr(agent, "gen_ai.usage.input_tokens"), None);
    assert!(spans.iter().any(|s| s.name() == "execute_tool add"));
}
