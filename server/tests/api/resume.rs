//! Sessions outlive connections: `resume` replays missed events, none lost or doubled.

use std::{sync::Arc, time::Duration};

use protocol::{ErrorCode, ServerEvent, ServerFrame};

use crate::{
    fixtures::{SlowCalculator, StagedLlm, ToolboxProcess},
    helpers::{kinds, spawn_app_with, spawn_app_with_llm},
};

fn resume(session_id: &str, last_seq: u64) -> String {
    serde_json::json!({ "type": "resume", "session_id": session_id, "last_seq": last_seq })
        .to_string()
}

#[tokio::test]
async fn resume_mid_turn_replays_exactly_the_missed_events() {
    // Slow tool calls keep the turn running across the reconnect.
    let toolbox = ToolboxProcess::start(
        SlowCalculator::new(Duration::from_millis(400)),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await;
    let app = spawn_app_with(|s| s.mcp_server_url = Some(toolbox.url())).await;

    let mut first = app.connect_raw().await;
    let ServerEvent::Ready { session_id, .. } = first.next_event().await else {
        panic!("ready first")
    };
    first.say("(10 + 5) * 3").await;
    let mut seen: Vec<ServerFrame> = Vec::new();
    while seen.len() < 3 {
        seen.push(first.next_frame().await);
    }
    let owner = first.owner().to_owned();
    drop(first); // the network drops mid-turn

    let mut second = app.connect_as(&owner).await;
    let last_seq = seen.last().unwrap().seq.unwrap();
    second.send_text(&resume(&session_id, last_seq)).await;
    match second.next_event().await {
        ServerEvent::Ready {
            session_id: resumed,
            ..
        } => assert_eq!(resumed, session_id),
        other => panic!("expected ready for the resumed session, got {other:?}"),
    }
    loop {
        let frame = second.next_frame().await;
        let done = frame.event.is_terminal();
        seen.push(frame);
        if done {
            break;
        }
    }
    let seqs: Vec<u64> = seen.iter().map(|f| f.seq.unwrap()).collect();
    let expected: Vec<u64> = (seqs[0]..seqs[0] + seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "every event exactly once, in order");
    let kinds: Vec<_> = seen.iter().map(|f| f.event.kind()).collect();
    assert_eq!(
        kinds,
        [
            "start",
            "step",
            "tool_call",
            "tool_result",
            "tool_call",
            "tool_result",
            "response",
            "complete"
        ]
    );
    toolbox.kill().await;
}

#[tokio::test]
async fn resume_after_the_turn_finished_replays_the_rest_and_keeps_the_conversation() {
    let app = spawn_app_with(|_| {}).await;
    let mut first = app.connect_raw().await;
    let ServerEvent::Ready { session_id, .. } = first.next_event().await else {
        panic!()
    };
    first.say("Suma 10 y 5").await;
    let start = first.next_frame().await;
    assert_eq!(start.event.kind(), "start");
    let owner = first.owner().to_owned();
    drop(first);

    let mut second = app.connect_as(&owner).await;
    second
        .send_text(&resume(&session_id, start.seq.unwrap()))
        .await;
    assert!(matches!(
        second.next_event().await,
        ServerEvent::Ready { .. }
    ));
    let rest = second.collect_turn().await;
    assert_eq!(rest.first().map(ServerEvent::kind), Some("step"));
    assert_eq!(rest.last(), Some(&ServerEvent::complete(5)));

    // Memory: the conversation continues in the resumed session.
    let events = second.turn("y multiplícalo por 2").await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ServerEvent::ToolResult { result, .. } if result == "30"))
    );
}

#[tokio::test]
async fn an_unknown_session_is_reported_and_the_connection_continues() {
    let app = spawn_app_with(|_| {}).await;
    let mut client = app.connect().await;
    client.send_text(&resume("no-such-session", 0)).await;
    assert!(matches!(
        client.next_event().await,
        ServerEvent::Error {
            code: Some(ErrorCode::SessionExpired),
            ..
        }
    ));
    let events = client.turn("Suma 1 y 1").await;
    assert_eq!(events.last(), Some(&ServerEvent::complete(5)));
}

#[tokio::test]
async fn a_turn_nobody_follows_is_cancelled_after_the_grace_period_and_stays_stored() {
    let llm = Arc::new(StagedLlm::default());
    let app = spawn_app_with_llm(llm.clone(), |s| {
        s.session_grace = Duration::from_millis(100)
    })
    .await;
    let mut first = app.connect_raw().await;
    let ServerEvent::Ready { session_id, .. } = first.next_event().await else {
        panic!()
    };
    first.say("hang").await;
    assert_eq!(first.next_event().await.kind(), "start");
    let owner = first.owner().to_owned();
    drop(first);
    // Nobody follows it: after the grace period its turn stops and it leaves memory.
    app.wait_for_metric("toolstream_sessions", 0.0).await;
    assert_eq!(llm.dropped.get(), 1, "the turn was cancelled");

    // The conversation is stored: its owner resumes it and sees how the turn ended.
    let mut second = app.connect_as(&owner).await;
    second.resume(&session_id, 0).await;
    assert!(matches!(
        second.next_event().await,
        ServerEvent::Ready { .. }
    ));
    let replayed = second.collect_turn().await;
    assert_eq!(kinds(&replayed), ["start", "step", "cancelled"]);
}
