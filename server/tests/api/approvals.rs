//! Tool approval: calls whose policy is `ask` wait for the user's `approve` or `deny`
//! (WebSocket) or `POST /api/conversations/{id}/approvals/{call_id}` (REST), a timeout denies them, a
//! denied call is an error result the model reads, and a pending approval survives a
//! reconnect. The toolbox here is configured to ask before `add`.

use std::time::Duration;

use protocol::{ErrorCode, ServerEvent, ServerFrame};
use serde_json::{Value, json};

use crate::{
    fixtures::{SlowCalculator, ToolboxProcess},
    helpers::{TestApp, assert_error, kinds, spawn_app_with},
    mcp_servers::{test_env, write_config},
};

/// The server, with `add` asking for approval (and `divide` denied outright).
async fn app_asking(configure: impl FnOnce(&mut server::Settings)) -> (TestApp, ToolboxProcess) {
    let toolbox = ToolboxProcess::start(
        SlowCalculator::new(Duration::ZERO),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await;
    let path = write_config(json!({
        "calc": { "url": toolbox.url(), "toolApproval": { "add": "ask", "divide": "deny" } }
    }));
    let app = spawn_app_with(move |s| {
        s.mcp_config = Some(path);
        s.mcp_env = Some(test_env());
        configure(s);
    })
    .await;
    app.wait_servers(&["calc"], "ready").await;
    (app, toolbox)
}

fn approval_of(event: &ServerEvent) -> String {
    match event {
        ServerEvent::ApprovalRequired {
            call_id,
            tool,
            args,
            server,
        } => {
            assert_eq!(tool, "add");
            assert_eq!(Value::Object(args.clone()), json!({"a": 10, "b": 5}));
            assert_eq!(server, "calc");
            call_id.clone()
        }
        other => panic!("expected approval_required, got {other:?}"),
    }
}

#[tokio::test]
async fn an_approved_call_runs_after_the_user_says_so() {
    let (app, _toolbox) = app_asking(|_| {}).await;
    let mut client = app.connect().await;
    client.say("Suma 10 y 5").await;
    let events = client.until(|e| e.kind() == "approval_required").await;
    assert_eq!(
        kinds(&events),
        ["start", "step", "tool_call", "approval_required"]
    );
    let call_id = approval_of(&events[3]);
    assert!(
        matches!(&events[2], ServerEvent::ToolCall { call_id: Some(id), .. } if *id == call_id)
    );

    client
        .send_json(json!({"type": "approve", "call_id": call_id}))
        .await;
    let rest = client.collect_turn().await;
    assert_eq!(
        kinds(&rest),
        ["approval_resolved", "tool_result", "response", "complete"]
    );
    assert_eq!(
        rest[0],
        ServerEvent::ApprovalResolved {
            call_id: call_id.clone(),
            approved: true,
            reason: None
        }
    );
    assert!(
        matches!(&rest[1], ServerEvent::ToolResult { result, is_error: false, .. } if result == "15")
    );
    assert_eq!(
        rest[2],
        ServerEvent::Response {
            content: "La suma de 10 y 5 es 15.".into()
        }
    );
    assert_eq!(rest[3], ServerEvent::complete(7));

    // Read-only tools of the same server still run without asking.
    let events = client.turn("Multiplica 6 por 7").await;
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
}

#[tokio::test]
async fn a_denied_call_is_an_error_result_and_the_model_goes_on() {
    let (app, _toolbox) = app_asking(|_| {}).await;
    let mut client = app.connect().await;
    client.say("Suma 10 y 5").await;
    let events = client.until(|e| e.kind() == "approval_required").await;
    let call_id = approval_of(events.last().unwrap());
    // Answering a call nobody waits for is refused; the real one still waits.
    client
        .send_json(json!({"type": "approve", "call_id": "0123456789abcdef"}))
        .await;
    assert_error(
        &client.next_event().await,
        ErrorCode::InvalidMessage,
        "no tool call",
    );

    client
        .send_json(json!({"type": "deny", "call_id": call_id, "reason": "not now"}))
        .await;
    let rest = client.collect_turn().await;
    assert_eq!(
        kinds(&rest),
        ["approval_resolved", "tool_result", "response", "complete"]
    );
    assert_eq!(
        rest[0],
        ServerEvent::ApprovalResolved {
            call_id,
            approved: false,
            reason: Some("not now".into())
        }
    );
    assert!(
        matches!(&rest[1], ServerEvent::ToolResult { is_error: true, result, .. }
            if result.contains("declined") && result.contains("not now")),
        "{rest:?}"
    );
    assert!(
        matches!(&rest[2], ServerEvent::Response { content } if content.contains("rechazaste")),
        "{rest:?}"
    );

    // A `deny` tool is never offered: the planner says the toolbox lacks it.
    let events = client.turn("Divide 10 entre 2").await;
    assert_eq!(kinds(&events), ["start", "step", "response", "complete"]);
}

#[tokio::test]
async fn an_unanswered_approval_times_out_as_a_denial() {
    let (app, _toolbox) = app_asking(|s| s.approval_timeout = Duration::from_millis(300)).await;
    let mut client = app.connect().await;
    let events = client.turn("Suma 10 y 5").await;
    assert_eq!(
        kinds(&events),
        [
            "start",
            "step",
            "tool_call",
            "approval_required",
            "approval_resolved",
            "tool_result",
            "response",
            "complete"
        ]
    );
    assert!(
        matches!(&events[4], ServerEvent::ApprovalResolved { approved: false, reason: Some(r), .. } if r.contains("nobody answered")),
        "{events:?}"
    );
    assert!(matches!(
        &events[5],
        ServerEvent::ToolResult { is_error: true, .. }
    ));
}

#[tokio::test]
async fn waiting_for_approval_does_not_count_against_the_turn_timeout() {
    let (app, _toolbox) = app_asking(|s| s.turn_timeout = Duration::from_millis(300)).await;
    let mut client = app.connect().await;
    client.say("Suma 10 y 5").await;
    let events = client.until(|e| e.kind() == "approval_required").await;
    let call_id = approval_of(events.last().unwrap());
    // Three turn timeouts pass while the user thinks.
    tokio::time::sleep(Duration::from_millis(900)).await;
    client
        .send_json(json!({"type": "approve", "call_id": call_id}))
        .await;
    let rest = client.collect_turn().await;
    assert_eq!(rest.last(), Some(&ServerEvent::complete(7)), "{rest:?}");
}

#[tokio::test]
async fn a_pending_approval_is_shown_again_on_resume_and_can_be_answered_there() {
    let (app, _toolbox) = app_asking(|_| {}).await;
    let mut first = app.connect_raw().await;
    let ServerEvent::Ready { session_id, .. } = first.next_event().await else {
        panic!("ready first");
    };
    first.say("Suma 10 y 5").await;
    let events = first.until(|e| e.kind() == "approval_required").await;
    let call_id = approval_of(events.last().unwrap());
    let owner = first.owner().to_owned();
    drop(first); // the page reloads

    let mut second = app.connect_as(&owner).await;
    second
        .send_json(json!({"type": "resume", "session_id": session_id, "last_seq": 0}))
        .await;
    assert_eq!(second.next_event().await.kind(), "ready");
    let replayed = second.until(|e| e.kind() == "approval_required").await;
    assert_eq!(approval_of(replayed.last().unwrap()), call_id);

    second
        .send_json(json!({"type": "approve", "call_id": call_id}))
        .await;
    let rest = second.collect_turn().await;
    assert!(
        matches!(
            &rest[0],
            ServerEvent::ApprovalResolved { approved: true, .. }
        ),
        "{rest:?}"
    );
    assert_eq!(rest.last(), Some(&ServerEvent::complete(7)));
}

/// Reads SSE frames from a streamed turn.
struct SseReader {
    response: reqwest::Response,
    buffer: String,
    /// The owner cookie and the conversation, to answer approvals.
    cookie: String,
    conversation: String,
}

impl SseReader {
    async fn open(app: &TestApp, message: &str) -> Self {
        let response = reqwest::Client::new()
            .post(app.url("/api/chat/stream"))
            .json(&json!({ "message": message }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let cookie = crate::helpers::owner_cookie(response.headers()).unwrap();
        let conversation = response.headers()["x-conversation-id"]
            .to_str()
            .unwrap()
            .to_owned();
        Self {
            response,
            buffer: String::new(),
            cookie,
            conversation,
        }
    }

    async fn next(&mut self) -> ServerEvent {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) {
                    let frame: ServerFrame = serde_json::from_str(data).unwrap();
                    return frame.event;
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("an SSE event in time")
                .unwrap()
                .expect("the stream goes on");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    async fn until(&mut self, kind: &str) -> Vec<ServerEvent> {
        let mut events = Vec::new();
        loop {
            let event = self.next().await;
            let found = event.kind() == kind;
            events.push(event);
            if found {
                return events;
            }
        }
    }
}

async fn answer(app: &TestApp, stream: &SseReader, call_id: &str, body: Value) -> (u16, Value) {
    let path = format!(
        "/api/conversations/{}/approvals/{call_id}",
        stream.conversation
    );
    let response = reqwest::Client::new()
        .post(app.url(&path))
        .header("cookie", &stream.cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn rest_clients_answer_approvals_by_call_id() {
    let (app, _toolbox) = app_asking(|_| {}).await;

    let mut stream = SseReader::open(&app, "Suma 10 y 5").await;
    let events = stream.until("approval_required").await;
    let call_id = approval_of(events.last().unwrap());
    assert_eq!(
        answer(&app, &stream, &call_id, json!({"approve": true}))
            .await
            .0,
        204
    );
    let rest = stream.until("complete").await;
    assert_eq!(
        kinds(&rest),
        ["approval_resolved", "tool_result", "response", "complete"]
    );
    assert!(matches!(&rest[1], ServerEvent::ToolResult { result, .. } if result == "15"));
    // Answered once: a second answer finds nothing waiting.
    let (status, body) = answer(&app, &stream, &call_id, json!({"approve": true})).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));

    let mut stream = SseReader::open(&app, "Suma 10 y 5").await;
    let events = stream.until("approval_required").await;
    let call_id = approval_of(events.last().unwrap());
    let (status, body) = answer(&app, &stream, &call_id, json!({"approve": "yes"})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, _) = answer(
        &app,
        &stream,
        &call_id,
        json!({"approve": false, "reason": "no"}),
    )
    .await;
    assert_eq!(status, 204);
    let rest = stream.until("complete").await;
    assert!(
        matches!(&rest[0], ServerEvent::ApprovalResolved { approved: false, reason: Some(r), .. } if r == "no"),
        "{rest:?}"
    );
    assert!(matches!(
        &rest[1],
        ServerEvent::ToolResult { is_error: true, .. }
    ));
}

#[tokio::test]
async fn plain_rest_turns_deny_calls_that_need_approval_at_once() {
    let (app, _toolbox) = app_asking(|_| {}).await;
    let response = reqwest::Client::new()
        .post(app.url("/api/chat"))
        .json(&json!({"message": "Suma 10 y 5"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["tool_calls"][0]["is_error"], true, "{body}");
    assert!(
        body["tool_calls"][0]["result"]
            .as_str()
            .unwrap()
            .contains("cannot give"),
        "{body}"
    );
}

#[tokio::test]
async fn a_rest_client_that_leaves_stops_its_turn_waiting_for_approval() {
    let (app, _toolbox) = app_asking(|_| {}).await;
    let mut stream = SseReader::open(&app, "Suma 10 y 5").await;
    let events = stream.until("approval_required").await;
    let call_id = approval_of(events.last().unwrap());
    assert_eq!(app.metric("toolstream_turns_running").await, 1.0);
    let (cookie, conversation) = (stream.cookie.clone(), stream.conversation.clone());
    drop(stream);
    // The turn ends now, not when the approval times out (five minutes).
    app.wait_for_metric("toolstream_turns_running", 0.0).await;
    let left = SseReader {
        response: reqwest::get(app.url("/healthz")).await.unwrap(),
        buffer: String::new(),
        cookie,
        conversation,
    };
    let (status, _) = answer(&app, &left, &call_id, json!({"approve": true})).await;
    assert_eq!(status, 404, "nothing waits any more");
}
