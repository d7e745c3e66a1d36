//! Limits per client address and for the whole server, through real sockets: many
//! connections from one address, a message rate shared by an address's connections,
//! REST rate and concurrency (429 with `Retry-After`), and the global cap on running
//! turns (`busy`, 503).

use std::{sync::Arc, time::Duration};

use protocol::{ErrorCode, ServerEvent};
use serde_json::{Value, json};
use tokio::{io::AsyncReadExt, net::TcpStream};
use tokio_tungstenite::tungstenite::{Error as WsError, client::IntoClientRequest};

use crate::{
    fixtures::{Counter, SlowCalculator, StagedLlm, ToolboxProcess},
    helpers::{EVENT_TIMEOUT, TestApp, WsClient, assert_error, spawn_app_with, spawn_app_with_llm},
};

/// A WebSocket on `/ws` with extra headers, past `ready`; or the refusal's status.
async fn connect(app: &TestApp, headers: &[(&'static str, &str)]) -> Result<WsClient, u16> {
    let mut request = format!("ws://{}/ws", app.address)
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => {
            let mut client = WsClient {
                socket,
                cookie: None,
            };
            assert!(matches!(
                client.next_event().await,
                ServerEvent::Ready { .. }
            ));
            Ok(client)
        }
        Err(WsError::Http(response)) => {
            if response.status() == 429 {
                let retry = response.headers()["retry-after"].to_str().unwrap();
                assert!(retry.parse::<u64>().unwrap() >= 1);
            }
            Err(response.status().as_u16())
        }
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

async fn wait_until(counter: &Counter, value: usize) {
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    while counter.get() < value {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never reached {value}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn post(app: &TestApp, path: &str, message: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url(path))
        .json(&json!({ "message": message }))
        .send()
        .await
        .unwrap()
}

/// Asserts a 429 (or 503) JSON error with `Retry-After`; returns the error code.
async fn refused(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status(), status);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let body: Value = response.json().await.unwrap();
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    body["error"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn many_websockets_from_one_address_are_capped_and_the_slot_comes_back() {
    let app = spawn_app_with(|s| s.max_connections_per_client = 5).await;
    let mut open = Vec::new();
    for _ in 0..5 {
        open.push(connect(&app, &[]).await.unwrap());
    }
    for _ in 0..3 {
        assert_eq!(connect(&app, &[]).await.err(), Some(429));
    }
    assert_eq!(
        app.metric("toolstream_ws_rejected_total{reason=\"client_connections\"}")
            .await,
        3.0
    );
    // The others keep working; closing one frees its place.
    let events = open[4].turn("Suma 1 y 2").await;
    assert_eq!(events.last(), Some(&ServerEvent::complete(5)));
    let closed = open.pop().unwrap();
    drop(closed);
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        match connect(&app, &[]).await {
            Ok(_) => break,
            Err(429) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(status) => panic!("still refused: {status}"),
        }
    }
}

#[tokio::test]
async fn behind_a_proxy_the_trusted_header_names_the_client() {
    let app = spawn_app_with(|s| {
        s.max_connections_per_client = 2;
        s.trusted_proxy_header = Some("x-forwarded-for".parse().unwrap());
    })
    .await;
    let alice = [("x-forwarded-for", "198.51.100.9, 203.0.113.1")];
    let bob = [("x-forwarded-for", "203.0.113.2")];
    let _a1 = connect(&app, &alice).await.unwrap();
    let _a2 = connect(&app, &alice).await.unwrap();
    assert_eq!(connect(&app, &alice).await.err(), Some(429));
    // Another client behind the same proxy (same peer address) is not affected,
    // and a forged first entry does not make Alice someone else.
    let _b1 = connect(&app, &bob).await.unwrap();
    let forged = [("x-forwarded-for", "192.0.2.77, 203.0.113.1")];
    assert_eq!(connect(&app, &forged).await.err(), Some(429));
}

#[tokio::test]
async fn http_connections_from_one_address_are_capped_at_accept() {
    let app = spawn_app_with(|s| {
        s.max_connections_per_client = 3;
        s.header_read_timeout = Duration::from_secs(30);
    })
    .await;
    let held: Vec<TcpStream> =
        futures::future::join_all((0..3).map(|_| TcpStream::connect(app.address)))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    // The fourth is closed at once, without an answer.
    let mut fourth = TcpStream::connect(app.address).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(EVENT_TIMEOUT, fourth.read(&mut buf))
        .await
        .expect("closed at once");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    drop(held);
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    while reqwest::get(app.url("/healthz")).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_addresss_message_rate_is_shared_and_survives_reconnects() {
    let app = spawn_app_with(|s| {
        s.client_rate_limit_per_sec = 0.2;
        s.client_rate_limit_burst = 4;
    })
    .await;
    let mut first = connect(&app, &[]).await.unwrap();
    let mut second = connect(&app, &[]).await.unwrap();
    for round in 0..4 {
        let client = if round % 2 == 0 {
            &mut first
        } else {
            &mut second
        };
        let events = client.turn("Suma 1 y 1").await;
        assert_eq!(events.last(), Some(&ServerEvent::complete(5)));
    }
    // The burst of four is spent by both connections together.
    first.say("Suma 1 y 1").await;
    assert_error(
        &first.next_event().await,
        ErrorCode::RateLimited,
        "slow down",
    );
    // A new connection from the same address does not start afresh.
    drop((first, second));
    let mut third = connect(&app, &[]).await.unwrap();
    third.say("Suma 1 y 1").await;
    assert_error(
        &third.next_event().await,
        ErrorCode::RateLimited,
        "slow down",
    );
}

#[tokio::test]
async fn rest_turns_beyond_the_rate_get_429_with_retry_after() {
    let app = spawn_app_with(|s| {
        s.client_rate_limit_per_sec = 0.2;
        s.client_rate_limit_burst = 2;
    })
    .await;
    assert_eq!(post(&app, "/api/chat", "Suma 1 y 1").await.status(), 200);
    assert_eq!(
        post(&app, "/api/chat/stream", "Suma 1 y 1").await.status(),
        200
    );
    let code = refused(post(&app, "/api/chat", "Suma 1 y 1").await, 429).await;
    assert_eq!(code, "rate_limited");
    let code = refused(post(&app, "/api/chat/stream", "Suma 1 y 1").await, 429).await;
    assert_eq!(code, "rate_limited");
    // Other routes are not rated.
    assert_eq!(
        reqwest::get(app.url("/healthz")).await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn rest_turns_one_client_runs_at_once_are_capped() {
    let calculator = SlowCalculator::new(Duration::from_millis(1500));
    let toolbox = ToolboxProcess::start(calculator.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let app = spawn_app_with(|s| {
        s.mcp_server_url = Some(toolbox.url());
        s.max_api_turns_per_client = 1;
    })
    .await;
    let app = Arc::new(app);
    let running = {
        let app = app.clone();
        tokio::spawn(async move {
            post(&app, "/api/chat/stream", "Suma 1 y 1")
                .await
                .text()
                .await
                .unwrap()
        })
    };
    wait_until(&calculator.started, 1).await;
    let code = refused(post(&app, "/api/chat", "Suma 2 y 2").await, 429).await;
    assert_eq!(code, "rate_limited");
    // The stream held the client's place to its end; then the next turn runs.
    let events = running.await.unwrap();
    assert!(events.contains("event: complete"), "{events}");
    let response = post(&app, "/api/chat", "Suma 2 y 2").await;
    assert_eq!(response.status(), 200);
    toolbox.kill().await;
}

#[tokio::test]
async fn beyond_max_concurrent_turns_websockets_get_busy_and_rest_503() {
    let llm = Arc::new(StagedLlm::default());
    let app = spawn_app_with_llm(llm.clone(), |s| s.max_concurrent_turns = 1).await;
    let mut hanging = connect(&app, &[]).await.unwrap();
    hanging.say("hang").await;
    wait_until(&llm.started, 1).await;

    let mut other = connect(&app, &[]).await.unwrap();
    let events = other.turn("Suma 1 y 2").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_error(&events[0], ErrorCode::Busy, "demasiadas peticiones");
    let code = refused(post(&app, "/api/chat", "Suma 1 y 2").await, 503).await;
    assert_eq!(code, "busy");
    let code = refused(post(&app, "/api/chat/stream", "Suma 1 y 2").await, 503).await;
    assert_eq!(code, "busy");
    assert_eq!(
        app.metric("toolstream_turns_total{outcome=\"busy\"}").await,
        3.0
    );

    // Once the running turn ends, there is room again.
    hanging.send_text(r#"{"type":"cancel"}"#).await;
    let rest = hanging.collect_turn().await;
    assert_eq!(rest.last(), Some(&ServerEvent::Cancelled {}));
    let events = other.turn("Suma 1 y 2").await;
    assert_eq!(events.last(), Some(&ServerEvent::complete(5)));
}
