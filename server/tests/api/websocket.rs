//! The WebSocket endpoint: streaming, concurrency, bad input, compatibility.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use protocol::{ErrorCode, ServerEvent};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{EVENT_TIMEOUT, kinds, spawn_app};

#[tokio::test]
async fn ready_announces_the_llm_and_the_tools() {
    let app = spawn_app().await;
    let mut client = app.connect_raw().await;
    let ServerEvent::Ready {
        protocol,
        llm,
        tools,
        session_id,
        ..
    } = client.next_event().await
    else {
        panic!("ready expected first");
    };
    assert_eq!(protocol, protocol::PROTOCOL_VERSION);
    assert!(!session_id.is_empty());
    assert_eq!(llm.provider, "local");
    let mut names: Vec<_> = tools.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["add", "divide", "multiply", "subtract"]);
    assert!(
        tools
            .iter()
            .all(|t| t.parameters["properties"]["a"]["type"] == "number")
    );
}

#[tokio::test]
async fn many_clients_at_once_each_get_their_own_answers() {
    let app = spawn_app().await;
    let clients = (0..40).map(|i| {
        let app = &app;
        async move {
            let mut client = app.connect().await;
            for j in 0..3 {
                let events = client.turn(&format!("Suma {i} y {j}")).await;
                let expected = (i + j).to_string();
                assert!(
                    events.iter().any(|e| matches!(e, ServerEvent::ToolResult { result, .. } if *result == expected)),
                    "client {i} turn {j}: {events:?}"
                );
                assert_eq!(events.last(), Some(&ServerEvent::complete(5)));
            }
        }
    });
    futures::future::join_all(clients).await;
}

#[tokio::test]
async fn bad_frames_get_clear_errors_and_the_connection_keeps_serving() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    let mut bystander = app.connect().await;
    let cases = [
        ("not json", ErrorCode::InvalidJson, "not valid JSON"),
        (
            r#"{"content":"Suma 1 y 2"}"#,
            ErrorCode::InvalidMessage,
            "no \"type\"",
        ),
        (
            r#"{"type":"shout","content":"x"}"#,
            ErrorCode::InvalidMessage,
            "unknown message type",
        ),
        (
            r#"{"type":"message"}"#,
            ErrorCode::InvalidMessage,
            "content",
        ),
        (
            r#"{"type":"message","content":""}"#,
            ErrorCode::InvalidMessage,
            "empty",
        ),
        (
            r#"{"type":"message","content":"   "}"#,
            ErrorCode::InvalidMessage,
            "empty",
        ),
        (
            r#"{"type":"message","content":42}"#,
            ErrorCode::InvalidMessage,
            "invalid type",
        ),
        ("[1,2,3]", ErrorCode::InvalidMessage, "array"),
    ];
    for (frame, code, needle) in cases {
        client.send_text(frame).await;
        match client.next_event().await {
            ServerEvent::Error {
                message,
                code: Some(got),
            } => {
                assert_eq!(got, code, "{frame}");
                assert!(message.contains(needle), "{frame}: {message}");
            }
            other => panic!("{frame}: expected error, got {other:?}"),
        }
    }
    client
        .socket
        .send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert!(matches!(
        client.next_event().await,
        ServerEvent::Error {
            code: Some(ErrorCode::InvalidMessage),
            ..
        }
    ));

    // Still serving, and the other connection never saw any of it.
    let events = client.turn("Suma 10 y 5").await;
    assert_eq!(events.last(), Some(&ServerEvent::complete(5)));
    let events = bystander.turn("Suma 1 y 1").await;
    assert_eq!(events.first().map(ServerEvent::kind), Some("start"));
}

#[tokio::test]
async fn messages_sent_during_a_turn_queue_and_never_interleave() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    for i in 0..4 {
        client.say(&format!("Suma {i} y 100")).await;
    }
    for i in 0..4 {
        let events = client.collect_turn().await;
        let kinds = kinds(&events);
        assert_eq!(
            kinds,
            [
                "start",
                "step",
                "tool_call",
                "tool_result",
                "response",
                "complete"
            ]
        );
        let expected = (i + 100).to_string();
        assert!(
            matches!(&events[3], ServerEvent::ToolResult { result, .. } if *result == expected)
        );
    }
}

#[tokio::test]
async fn oversized_content_is_refused_with_an_error() {
    let app = spawn_app_with_small_limits().await;
    let mut client = app.connect().await;
    client.say(&"x".repeat(101)).await;
    assert!(matches!(
        client.next_event().await,
        ServerEvent::Error {
            code: Some(ErrorCode::TooLarge),
            ..
        }
    ));
    let events = client.turn("Suma 1 y 1").await;
    assert_eq!(events.last(), Some(&ServerEvent::complete(5)));
}

async fn spawn_app_with_small_limits() -> crate::helpers::TestApp {
    crate::helpers::spawn_app_with(|s| s.max_content_chars = 100).await
}

#[tokio::test]
async fn a_client_without_origin_and_the_legacy_page_protocol_work() {
    // tungstenite sends no Origin header, like wscat or a server-side client; and it
    // speaks exactly what the old test page sends.
    let app = spawn_app().await;
    let (mut socket, response) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws", app.address))
            .await
            .unwrap();
    assert_eq!(response.status(), 101);
    socket
        .send(Message::text(
            r#"{"type":"message","content":"Suma 10 y 5"}"#,
        ))
        .await
        .unwrap();
    let mut types = Vec::new();
    while types.last().map(String::as_str) != Some("complete") {
        let frame = tokio::time::timeout(EVENT_TIMEOUT, socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let value: serde_json::Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
        types.push(value["type"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        types,
        [
            "ready",
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
async fn closing_mid_turn_leaves_the_server_healthy() {
    let app = spawn_app().await;
    for _ in 0..10 {
        let mut client = app.connect().await;
        client.say("(1 + 2) * 3").await;
        drop(client);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut client = app.connect().await;
    let events = client.turn("Suma 10 y 5").await;
    assert_eq!(events.last(), Some(&ServerEvent::complete(5)));
    let health = reqwest::get(app.url("/health")).await.unwrap();
    assert_eq!(health.status(), 200);
}
