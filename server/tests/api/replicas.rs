//! Several servers sharing PostgreSQL and Redis: any of them serves any session.
//! Resume on another server mid-turn, cancel across servers, one turn at a time per
//! session, a killed server's turn reported `interrupted`, and Redis or PostgreSQL
//! going away and coming back.

use std::{net::SocketAddr, time::Duration};

use protocol::{ErrorCode, ServerEvent, ServerFrame};

use crate::{
    durable::{collect_frames, tool_results, turn_frames},
    engines::{Postgres, Redis},
    fixtures::{SlowCalculator, ToolboxProcess},
    helpers::{EVENT_TIMEOUT, TestApp, connect_to, kinds, spawn_app_with},
    process::ServerProcess,
};

/// A server sharing `postgres` and `redis`, with `toolbox` (or its embedded one).
async fn replica(postgres: &Postgres, redis: &Redis, toolbox: Option<String>) -> TestApp {
    let (database, bus) = (postgres.url(), redis.url());
    spawn_app_with(move |s| {
        s.database_url = database;
        s.redis_url = Some(bus);
        s.mcp_server_url = toolbox;
        s.turn_lease = Duration::from_secs(1);
    })
    .await
}

fn assert_contiguous(frames: &[ServerFrame]) {
    let seqs: Vec<u64> = frames.iter().map(|f| f.seq.unwrap()).collect();
    let expected: Vec<u64> = (seqs[0]..seqs[0] + seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "every event exactly once, in order");
}

#[tokio::test]
async fn a_client_resumes_on_another_server_mid_turn_with_nothing_lost_or_doubled() {
    let (postgres, redis) = (Postgres::start(), Redis::start());
    let toolbox = ToolboxProcess::start(
        SlowCalculator::new(Duration::from_millis(400)),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await;
    let a = replica(&postgres, &redis, Some(toolbox.url())).await;
    let b = replica(&postgres, &redis, Some(toolbox.url())).await;

    let mut first = a.connect_raw().await;
    let ServerEvent::Ready { session_id, .. } = first.next_event().await else {
        panic!("ready first")
    };
    first.say("(10 + 5) * 3").await;
    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen.push(first.next_frame().await);
    }
    let owner = first.owner().to_owned();
    drop(first); // the network drops; the turn goes on on server A

    let mut second = b.connect_as(&owner).await;
    second
        .resume(&session_id, seen.last().unwrap().seq.unwrap())
        .await;
    assert!(matches!(
        second.next_event().await,
        ServerEvent::Ready { .. }
    ));
    seen.extend(collect_frames(&mut second).await);
    assert_contiguous(&seen);
    let events: Vec<ServerEvent> = seen.into_iter().map(|f| f.event).collect();
    assert_eq!(
        kinds(&events),
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
    // The conversation goes on from server B, with its memory.
    let next = turn_frames(&mut second, "y multiplícalo por 2").await;
    assert_eq!(tool_results(&next), ["90"]);
    toolbox.kill().await;
}

#[tokio::test]
async fn cancel_reaches_the_server_running_the_turn() {
    let (postgres, redis) = (Postgres::start(), Redis::start());
    let slow = SlowCalculator::new(Duration::from_secs(20));
    let toolbox = ToolboxProcess::start(slow, "127.0.0.1:0".parse().unwrap()).await;
    let a = replica(&postgres, &redis, Some(toolbox.url())).await;
    let b = replica(&postgres, &redis, None).await;

    let mut first = a.connect_raw().await;
    let ServerEvent::Ready { session_id, .. } = first.next_event().await else {
        panic!()
    };
    first.say("Suma 10 y 5").await;
    let mut last = 0;
    while last < 3 {
        last = first.next_frame().await.seq.unwrap(); // start, step, tool_call
    }
    let owner = first.owner().to_owned();

    let mut second = b.connect_as(&owner).await;
    second.resume(&session_id, last).await;
    assert!(matches!(
        second.next_event().await,
        ServerEvent::Ready { .. }
    ));
    // The first connection is taken over, wherever it is.
    assert_closed_with(&mut first, 4000).await;

    second.send_text(r#"{"type":"cancel"}"#).await;
    let ended = tokio::time::timeout(Duration::from_secs(3), second.next_frame())
        .await
        .expect("cancelled within a second or so");
    assert_eq!(ended.event, ServerEvent::Cancelled {});
    assert_eq!(ended.seq, Some(last + 1));
    // The lease is free: the next turn runs on server B.
    let next = turn_frames(&mut second, "Suma 1 y 1").await;
    assert_eq!(tool_results(&next), ["2"]);
    toolbox.kill().await;
}

async fn assert_closed_with(client: &mut crate::helpers::WsClient, code: u16) {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let message = tokio::time::timeout(EVENT_TIMEOUT, client.socket.next())
            .await
            .expect("closed in time");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), code);
                return;
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame {code}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn one_turn_at_a_time_per_conversation_across_servers() {
    let (postgres, redis) = (Postgres::start(), Redis::start());
    let a = replica(&postgres, &redis, None).await;
    let b = replica(&postgres, &redis, None).await;
    let http = reqwest::Client::new();
    let response = http
        .post(a.url("/api/chat"))
        .json(&serde_json::json!({ "message": "Suma 3 y 3" }))
        .send()
        .await
        .unwrap();
    // REST clients keep the owner cookie like any other.
    let cookie = crate::helpers::owner_cookie(response.headers()).unwrap();
    let conversation: serde_json::Value = response.json().await.unwrap();
    let id2 = conversation["conversation_id"].as_str().unwrap().to_owned();

    // Eight turns of one conversation, half on each server, all at once.
    let mut turns = Vec::new();
    for n in 0..8 {
        let server = if n % 2 == 0 {
            a.url("/api/chat")
        } else {
            b.url("/api/chat")
        };
        let (http, cookie, id2) = (http.clone(), cookie.clone(), id2.clone());
        turns.push(tokio::spawn(async move {
            let body =
                serde_json::json!({ "message": format!("Suma {n} y 1"), "conversation_id": id2 });
            let response = http
                .post(server)
                .header("cookie", cookie)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.json::<serde_json::Value>().await.unwrap()
        }));
    }
    for turn in turns {
        turn.await.unwrap();
    }
    let detail: serde_json::Value = http
        .get(b.url(&format!("/api/conversations/{id2}")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["turns"].as_array().unwrap().len(), 9);

    // Replayed from the start, the events of the nine turns never interleave.
    let mut client = b.connect_as(&cookie).await;
    client.resume(&id2, 0).await;
    assert!(matches!(
        client.next_event().await,
        ServerEvent::Ready { .. }
    ));
    let mut frames = Vec::new();
    for _ in 0..9 {
        frames.extend(collect_frames(&mut client).await);
    }
    assert_contiguous(&frames);
    let mut current: Option<String> = None;
    for frame in &frames {
        if frame.event.kind() == "start" {
            assert!(
                current.is_none(),
                "a turn started before the previous one ended"
            );
            current = frame.turn_id.clone();
        }
        assert_eq!(frame.turn_id, current);
        if frame.event.is_terminal() {
            current = None;
        }
    }
}

#[tokio::test]
async fn a_killed_server_s_turn_is_reported_interrupted_and_the_conversation_goes_on() {
    let (postgres, redis) = (Postgres::start(), Redis::start());
    let slow = SlowCalculator::new(Duration::from_secs(60));
    let toolbox = ToolboxProcess::start(slow, "127.0.0.1:0".parse().unwrap()).await;
    let (database, bus, tools) = (postgres.url(), redis.url(), toolbox.url());
    let mut a = ServerProcess::start(&[
        ("DATABASE_URL", &database),
        ("REDIS_URL", &bus),
        ("MCP_SERVER_URL", &tools),
        ("TURN_LEASE_SECS", "1"),
    ])
    .await;
    a.wait_healthy().await;
    let b = replica(&postgres, &redis, None).await;

    let address: SocketAddr = format!("127.0.0.1:{}", a.port).parse().unwrap();
    let mut first = connect_to(address, None).await;
    let ServerEvent::Ready { session_id, .. } = first.next_event().await else {
        panic!()
    };
    first.say("Suma 10 y 5").await;
    let mut last = first.next_frame().await;
    while last.event.kind() != "tool_call" {
        last = first.next_frame().await;
    }
    let owner = first.owner().to_owned();
    let mut second = b.connect_as(&owner).await;
    second.resume(&session_id, last.seq.unwrap()).await;
    let ready = second.next_event().await;
    assert!(matches!(ready, ServerEvent::Ready { .. }), "{ready:?}");

    a.kill(); // SIGKILL, mid-turn: no goodbye, the lease just stops being renewed
    let ended = tokio::time::timeout(Duration::from_secs(8), second.next_frame())
        .await
        .expect("the turn is reported within a few seconds");
    assert!(
        matches!(
            ended.event,
            ServerEvent::Error {
                code: Some(ErrorCode::Interrupted),
                ..
            }
        ),
        "{ended:?}"
    );
    assert_eq!(ended.turn_id, last.turn_id);
    assert_eq!(ended.seq, Some(last.seq.unwrap() + 1));
    // The conversation stays usable.
    let next = turn_frames(&mut second, "Suma 1 y 1").await;
    assert_eq!(tool_results(&next), ["2"]);
    toolbox.kill().await;
}
