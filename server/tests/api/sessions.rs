//! Sessions cost nothing once their peer is gone: a silent peer is dropped after the
//! ping deadline and its session enters its grace period; `MAX_SESSIONS` bounds what
//! the server holds; at shutdown, queued messages are answered `cancelled`; an idle
//! connection's session runs no task.

use std::{sync::Arc, time::Duration};

use futures::StreamExt;
use protocol::ServerEvent;
use tokio_tungstenite::tungstenite::Message;

use crate::{
    fixtures::{SlowCalculator, StagedLlm, ToolboxProcess},
    helpers::{EVENT_TIMEOUT, kinds, spawn_app, spawn_app_with, spawn_app_with_llm},
};

#[tokio::test]
async fn a_peer_that_stops_answering_pings_is_dropped_and_its_session_expires() {
    let llm = Arc::new(StagedLlm::default());
    let app = spawn_app_with_llm(llm.clone(), |s| {
        s.ws_ping = Duration::from_millis(100);
        s.session_grace = Duration::from_millis(200);
    })
    .await;
    // This client reads (and so answers pings) all along.
    let mut alive = app.connect().await;
    // This one starts a turn that never ends, then goes silent: it reads nothing,
    // so it never answers a ping, but its TCP connection stays open.
    let mut silent = app.connect().await;
    silent.say("hang").await;
    app.wait_for_metric("toolstream_ws_connections", 2.0).await;

    // Dropped after two ping intervals without a word...
    let watcher = tokio::spawn(async move {
        let mut pongs = 0;
        loop {
            match tokio::time::timeout(Duration::from_millis(50), alive.socket.next()).await {
                Ok(Some(Ok(Message::Ping(_)))) => pongs += 1,
                Ok(Some(Ok(_))) => {}
                Ok(other) => panic!("the live client was dropped: {other:?}"),
                Err(_) if pongs >= 6 => return alive,
                Err(_) => {}
            }
        }
    });
    app.wait_for_metric("toolstream_ws_connections", 1.0).await;
    // ...then, nobody following it, its turn is cancelled after the grace period
    // and the session leaves memory.
    app.wait_for_metric("toolstream_sessions", 1.0).await;
    assert_eq!(llm.dropped.get(), 1);
    // The client that answers pings stays, and still works.
    let mut alive = watcher.await.unwrap();
    let events = alive.turn("Suma 1 y 1").await;
    assert_eq!(events.last().map(ServerEvent::kind), Some("complete"));
    drop(silent);
}

/// A session's queue and worker task come with its first message: the session of a
/// connection that never sends one costs no task (BENCHMARKS.md, idle connections).
#[tokio::test]
async fn a_session_starts_its_worker_with_its_first_message() {
    let app = spawn_app().await;
    let tasks = || app.state.hub.tasks.len();
    let before = tasks();
    let mut client = app.connect().await;
    let _idle = app.connect().await;
    assert_eq!(app.state.hub.len(), 2);
    assert_eq!(tasks(), before, "idle connections' sessions run no task");
    let events = client.turn("Suma 2 y 2").await;
    assert_eq!(events.last().map(ServerEvent::kind), Some("complete"));
    assert_eq!(
        tasks(),
        before + 1,
        "the first message started its session's worker"
    );
    let events = client.turn("Multiplica 3 por 4").await;
    assert_eq!(events.last().map(ServerEvent::kind), Some("complete"));
    assert_eq!(
        tasks(),
        before + 1,
        "one worker per session, for all its messages"
    );
}

#[tokio::test]
async fn max_sessions_bounds_the_sessions_held_and_idle_ones_make_room() {
    let app = spawn_app_with(|s| {
        s.max_sessions = 2;
        s.session_grace = Duration::from_secs(600);
    })
    .await;
    let first = app.connect().await;
    let _second = app.connect().await;
    // Both are followed: a third session would exceed the bound.
    let mut third = app.connect_raw().await;
    match tokio::time::timeout(EVENT_TIMEOUT, third.socket.next()).await {
        Ok(Some(Ok(Message::Close(Some(frame))))) => assert_eq!(u16::from(frame.code), 1013),
        other => panic!("expected close 1013, got {other:?}"),
    }
    // A session nobody follows (in its grace period) makes room: it is stored, and
    // its owner can resume it later.
    drop(first);
    app.wait_for_metric("toolstream_ws_connections", 1.0).await;
    let mut fourth = app.connect().await;
    let events = fourth.turn("Suma 2 y 2").await;
    assert_eq!(events.last().map(ServerEvent::kind), Some("complete"));
    assert_eq!(app.metric("toolstream_sessions").await, 2.0);
}

#[tokio::test]
async fn at_shutdown_the_running_turn_finishes_and_queued_messages_are_cancelled() {
    let toolbox = ToolboxProcess::start(
        SlowCalculator::new(Duration::from_millis(300)),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await;
    let app = spawn_app_with(|s| s.mcp_server_url = Some(toolbox.url())).await;
    let mut client = app.connect().await;
    client.say("Suma 1 y 1").await;
    client.say("Suma 2 y 2").await;
    client.say("Suma 3 y 3").await;
    assert_eq!(client.next_event().await.kind(), "start");

    let stopping = tokio::spawn(app.stop());
    let mut ends = Vec::new();
    let close = loop {
        match tokio::time::timeout(EVENT_TIMEOUT, client.socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let frame: protocol::ServerFrame = serde_json::from_str(&text).unwrap();
                if frame.event.is_terminal() {
                    ends.push(frame.event);
                }
            }
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => {}
            other => panic!("the connection ended without a close frame: {other:?}"),
        }
    };
    // Every message got exactly one terminal event: the running turn completed, the
    // two queued were cancelled; then the server said goodbye.
    assert_eq!(kinds(&ends), ["complete", "cancelled", "cancelled"]);
    assert_eq!(close.map(|f| u16::from(f.code)), Some(1001));
    stopping.await.unwrap();
    toolbox.kill().await;
}

/// At the bound, many sessions created at the same moment each find room among the
/// idle ones (one's eviction is not taken by another's insertion): 480 REST
/// conversations, 48 at a time, under a bound of 64 sessions are all served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_new_conversations_at_the_bound_is_served_in_full() {
    let app = Arc::new(
        spawn_app_with(|s| {
            s.max_sessions = 64;
            s.session_grace = Duration::from_secs(600);
        })
        .await,
    );
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for worker in 0..48 {
        let (app, client) = (app.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for n in 0..10 {
                let body = serde_json::json!({"message": format!("Suma {worker} y {n}")});
                let response = client
                    .post(app.url("/api/chat"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                statuses.push(response.status().as_u16());
            }
            statuses
        }));
    }
    for task in tasks {
        let statuses = task.await.unwrap();
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    }
    assert!(app.metric("toolstream_sessions").await <= 64.0 + 48.0);
}
