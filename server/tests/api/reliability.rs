//! Limits, faults and cancellation: the server keeps working and loses nothing.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use futures::{SinkExt, StreamExt};
use protocol::{ErrorCode, ServerEvent};
use tokio_tungstenite::tungstenite::{Message, protocol::frame::coding::CloseCode};

use crate::{
    fixtures::{Revision, SlowCalculator, StagedLlm, ToolboxProcess},
    helpers::{EVENT_TIMEOUT, refused_address, spawn_app_with, spawn_app_with_llm},
};

fn error_code(event: &ServerEvent) -> Option<ErrorCode> {
    match event {
        ServerEvent::Error { code, .. } => *code,
        _ => None,
    }
}

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[tokio::test]
async fn frames_over_the_size_limit_close_with_1009() {
    let app = spawn_app_with(|s| s.max_message_bytes = 1024).await;
    let mut client = app.connect().await;
    let huge = format!(r#"{{"type":"message","content":"{}"}}"#, "x".repeat(2000));
    client.send_text(&huge).await;
    let close = tokio::time::timeout(EVENT_TIMEOUT, async {
        loop {
            match client.socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
    .unwrap()
    .expect("a close frame with a code");
    assert_eq!(close.code, CloseCode::Size);

    // Other clients are untouched.
    let mut other = app.connect().await;
    let events = other.turn("Suma 1 y 2").await;
    assert_eq!(events.last(), Some(&ServerEvent::complete(5)));
}

#[tokio::test]
async fn connections_over_the_limit_get_503() {
    let app = spawn_app_with(|s| s.max_connections = 2).await;
    let first = app.connect().await;
    let _second = app.connect().await;
    let refused = tokio_tungstenite::connect_async(format!("ws://{}/ws", app.address)).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
        }
        other => panic!("expected 503, got {other:?}"),
    }
    // A slot frees up when a connection closes.
    drop(first);
    app.wait_for_metric("toolstream_ws_connections", 1.0).await;
    let mut third = app.connect().await;
    let events = third.turn("Suma 1 y 2").await;
    assert_eq!(events.last(), Some(&ServerEvent::complete(5)));
}

#[tokio::test]
async fn a_full_queue_refuses_with_busy() {
    let llm = Arc::new(StagedLlm::default());
    let app = spawn_app_with_llm(llm.clone(), |s| s.max_queued_turns = 1).await;
    let mut client = app.connect().await;
    client.say("hang").await; // runs (forever)
    for kind in ["start", "step"] {
        assert_eq!(client.next_event().await.kind(), kind);
    }
    client.say("Suma 1 y 2").await; // waits in the queue
    client.say("Suma 3 y 4").await; // no room
    let refused = client.next_event().await;
    assert_eq!(error_code(&refused), Some(ErrorCode::Busy), "{refused:?}");
}

#[tokio::test]
async fn the_rate_limit_answers_with_a_clear_error() {
    let app = spawn_app_with(|s| {
        s.rate_limit_per_sec = 0.5;
        s.rate_limit_burst = 3;
    })
    .await;
    let mut client = app.connect().await;
    for _ in 0..5 {
        client.send_text("{}").await;
    }
    let mut codes = Vec::new();
    for _ in 0..5 {
        codes.push(error_code(&client.next_event().await));
    }
    assert_eq!(
        codes,
        [
            Some(ErrorCode::InvalidMessage),
            Some(ErrorCode::InvalidMessage),
            Some(ErrorCode::InvalidMessage),
            Some(ErrorCode::RateLimited),
            Some(ErrorCode::RateLimited),
        ]
    );
    assert!(
        app.metric("toolstream_ws_rejected_total{reason=\"rate_limited\"}")
            .await
            >= 2.0
    );
}

#[tokio::test]
async fn toolbox_down_at_startup_then_recovering_by_itself() {
    let (reserved, address) = refused_address();
    let app = spawn_app_with(|s| s.mcp_server_url = Some(format!("http://{address}/mcp"))).await;

    assert_eq!(
        reqwest::get(app.url("/readyz")).await.unwrap().status(),
        503
    );
    let mut client = app.connect().await;
    let events = client.turn("Suma 10 y 5").await;
    let kinds: Vec<_> = events.iter().map(ServerEvent::kind).collect();
    assert_eq!(kinds, ["start", "error"]);
    assert_eq!(error_code(&events[1]), Some(ErrorCode::ToolboxUnavailable));
    assert!(
        matches!(&events[1], ServerEvent::Error { message, .. } if message.contains("toolbox"))
    );

    // The toolbox comes up; the server reconnects by itself (with backoff).
    let toolbox = ToolboxProcess::start_on(SlowCalculator::new(Duration::ZERO), reserved);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while reqwest::get(app.url("/readyz")).await.unwrap().status() != 200 {
        assert!(tokio::time::Instant::now() < deadline, "never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events = client.turn("Suma 10 y 5").await;
    assert_eq!(events.last(), Some(&ServerEvent::complete(5)));
    toolbox.kill().await;
}

#[tokio::test]
async fn toolbox_killed_mid_turn_then_restarted() {
    let calculator = SlowCalculator::new(Duration::from_millis(300));
    let toolbox = ToolboxProcess::start(calculator.clone(), any_port()).await;
    let address = toolbox.address;
    let app = spawn_app_with(|s| s.mcp_server_url = Some(toolbox.url())).await;
    let mut client = app.connect().await;

    client.say("Suma 10 y 5").await;
    // Wait until the tool call is in flight at the toolbox, then kill it.
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    while calculator.started.get() == 0 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    toolbox.kill().await;
    // Readiness notices at once, not only when a turn fails.
    assert_eq!(
        reqwest::get(app.url("/readyz")).await.unwrap().status(),
        503
    );
    let events = client.collect_turn().await;
    assert_eq!(
        error_code(events.last().unwrap()),
        Some(ErrorCode::ToolboxUnavailable),
        "{events:?}"
    );

    // Restarted on the same address: later turns succeed, on the same connection.
    let restarted = ToolboxProcess::start(SlowCalculator::new(Duration::ZERO), address).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let events = client.turn("Suma 10 y 5").await;
        if events.last() == Some(&ServerEvent::complete(5)) {
            break;
        }
        assert_eq!(
            error_code(events.last().unwrap()),
            Some(ErrorCode::ToolboxUnavailable)
        );
        assert!(tokio::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    restarted.kill().await;
}

#[tokio::test]
async fn a_slow_tool_times_out_with_a_clear_error() {
    let toolbox =
        ToolboxProcess::start(SlowCalculator::new(Duration::from_secs(5)), any_port()).await;
    let app = spawn_app_with(|s| {
        s.mcp_server_url = Some(toolbox.url());
        s.tool_timeout = Duration::from_millis(200);
    })
    .await;
    let mut client = app.connect().await;
    let events = client.turn("Suma 10 y 5").await;
    let kinds: Vec<_> = events.iter().map(ServerEvent::kind).collect();
    assert_eq!(kinds, ["start", "step", "tool_call", "error"]);
    assert_eq!(error_code(&events[3]), Some(ErrorCode::Timeout));
    assert!(matches!(&events[3], ServerEvent::Error { message, .. } if message.contains("add")));
    toolbox.kill().await;
}

#[tokio::test]
async fn a_silent_llm_times_out_with_a_clear_error() {
    let llm = Arc::new(StagedLlm::default());
    let app = spawn_app_with_llm(llm.clone(), |s| s.llm.timeout = Duration::from_millis(200)).await;
    let mut client = app.connect().await;
    let events = client.turn("hang").await;
    let kinds: Vec<_> = events.iter().map(ServerEvent::kind).collect();
    assert_eq!(kinds, ["start", "step", "error"]);
    assert_eq!(error_code(&events[2]), Some(ErrorCode::Timeout));
    assert_eq!(llm.dropped.get(), 1, "the timed-out call was dropped");
}

#[tokio::test]
async fn the_iteration_cap_stops_a_turn_with_a_clear_error() {
    let app = spawn_app_with(|s| s.max_iterations = 1).await;
    let mut client = app.connect().await;
    let events = client.turn("(10 + 5) * 3").await;
    let kinds: Vec<_> = events.iter().map(ServerEvent::kind).collect();
    assert_eq!(
        kinds,
        ["start", "step", "tool_call", "tool_result", "error"]
    );
    assert_eq!(error_code(&events[4]), Some(ErrorCode::IterationLimit));
}

#[tokio::test]
async fn a_panic_inside_a_turn_is_reported_and_the_connection_lives_on() {
    let app = spawn_app_with_llm(Arc::new(StagedLlm::default()), |_| {}).await;
    let mut client = app.connect().await;
    let events = client.turn("please panic").await;
    assert_eq!(
        error_code(events.last().unwrap()),
        Some(ErrorCode::Internal)
    );
    let events = client.turn("Suma 10 y 5").await;
    assert_eq!(events.last(), Some(&ServerEvent::complete(5)));
    assert_eq!(app.metric("toolstream_turns_running").await, 0.0);
}

#[tokio::test]
async fn cancel_stops_the_llm_call_and_answers_cancelled() {
    let llm = Arc::new(StagedLlm::default());
    let app = spawn_app_with_llm(llm.clone(), |_| {}).await;
    let mut client = app.connect().await;
    client.say("hang").await;
    assert_eq!(client.next_event().await.kind(), "start");
    assert_eq!(client.next_event().await.kind(), "step");
    client.send_text(r#"{"type":"cancel"}"#).await;
    assert_eq!(client.next_event().await, ServerEvent::Cancelled {});
    assert_eq!(llm.dropped.get(), 1, "the LLM call was dropped");
    // The session goes on.
    let events = client.turn("Suma 10 y 5").await;
    assert_eq!(events.last(), Some(&ServerEvent::complete(5)));
}

#[tokio::test]
async fn cancel_drops_the_tool_call_in_flight_and_the_queued_turns() {
    let calculator = SlowCalculator::new(Duration::from_secs(30));
    let toolbox = ToolboxProcess::start(calculator.clone(), any_port()).await;
    let app = spawn_app_with(|s| s.mcp_server_url = Some(toolbox.url())).await;
    let mut client = app.connect().await;
    client.say("Suma 10 y 5").await;
    client.say("Suma 1 y 1").await; // queued behind the first
    for kind in ["start", "step", "tool_call"] {
        assert_eq!(client.next_event().await.kind(), kind);
    }
    client.send_text(r#"{"type":"cancel"}"#).await;
    // The running turn and the queued one each end with `cancelled`.
    assert_eq!(client.next_event().await, ServerEvent::Cancelled {});
    assert_eq!(client.next_event().await, ServerEvent::Cancelled {});
    // The toolbox saw its request go away.
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    while calculator.cancelled.get() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the tool call kept running"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(calculator.finished.get(), 0);
    toolbox.kill().await;
}

#[tokio::test]
async fn cancel_with_nothing_running_is_acknowledged() {
    let app = spawn_app_with(|_| {}).await;
    let mut client = app.connect().await;
    client.send_text(r#"{"type":"cancel"}"#).await;
    assert_eq!(client.next_event().await, ServerEvent::Cancelled {});
}

#[tokio::test]
async fn disconnects_cancel_turns_after_the_grace_period() {
    let llm = Arc::new(StagedLlm::default());
    let app = spawn_app_with_llm(llm.clone(), |s| {
        s.session_grace = Duration::from_millis(200)
    })
    .await;
    for _ in 0..5 {
        let mut client = app.connect().await;
        client.say("hang").await;
        assert_eq!(client.next_event().await.kind(), "start");
        client.socket.close(None).await.unwrap();
    }
    app.wait_for_metric("toolstream_ws_connections", 0.0).await;
    app.wait_for_metric("toolstream_turns_running", 0.0).await;
    app.wait_for_metric("toolstream_sessions", 0.0).await;
    assert_eq!(llm.dropped.get(), 5);
}

#[tokio::test]
async fn abrupt_disconnects_mid_turn_leave_nothing_running() {
    let app = spawn_app_with(|s| s.session_grace = Duration::ZERO).await;
    for _ in 0..20 {
        let client = app.connect().await;
        let mut socket = client.socket;
        socket
            .send(Message::text(
                r#"{"type":"message","content":"(1 + 2) * 3"}"#,
            ))
            .await
            .unwrap();
        drop(socket); // no close handshake
    }
    app.wait_for_metric("toolstream_ws_connections", 0.0).await;
    app.wait_for_metric("toolstream_turns_running", 0.0).await;
    app.wait_for_metric("toolstream_sessions", 0.0).await;
}

#[tokio::test]
async fn the_agent_speaks_stateless_mcp_and_falls_back_to_sessions() {
    // A current toolbox: 2026-07-28, no session is ever opened.
    let modern = ToolboxProcess::start(SlowCalculator::new(Duration::ZERO), any_port()).await;
    let app = spawn_app_with(|s| s.mcp_server_url = Some(modern.url())).await;
    let mut client = app.connect().await;
    let events = client.turn("Suma 10 y 5").await;
    assert_eq!(events.last(), Some(&ServerEvent::complete(5)));
    assert_eq!(modern.sessions.sessions.read().await.len(), 0);
    modern.kill().await;

    // Older toolboxes that only speak 2025-11-25: the agent opens a session, whether
    // the toolbox lacks `server/discover` or refuses 2026-07-28 through it.
    for revision in [
        Revision::LegacyWithoutDiscover,
        Revision::LegacyWithDiscover,
    ] {
        let mut calculator = SlowCalculator::new(Duration::ZERO);
        calculator.revision = revision;
        let legacy = ToolboxProcess::start(calculator, any_port()).await;
        let app = spawn_app_with(|s| s.mcp_server_url = Some(legacy.url())).await;
        let mut client = app.connect().await;
        let events = client.turn("Suma 10 y 5").await;
        assert_eq!(events.last(), Some(&ServerEvent::complete(5)));
        assert_eq!(legacy.sessions.sessions.read().await.len(), 1);
        legacy.kill().await;
    }
}
