//! Slow and idle HTTP clients, through raw TCP: a request head that never completes,
//! a keep-alive connection left idle, a body that stops arriving, more connections
//! than the server serves at once. None of them may hold the server.

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    fixtures::{SlowCalculator, ToolboxProcess},
    helpers::{TestApp, spawn_app_with},
};

const HALF_HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";

/// Reads until the server closes the connection; returns what it sent and when it
/// closed. Fails if it stays open longer than `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Instant) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let read = tokio::time::timeout(limit, stream.read(&mut buf))
            .await
            .expect("the server closed the connection in time");
        match read {
            Ok(0) | Err(_) => return (received, Instant::now()),
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// One HTTP/1.1 response read off a keep-alive connection (headers and a
/// `Content-Length` body).
async fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("a response in time")
            .expect("readable");
        assert!(n > 0, "closed before a response");
        received.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
    }
}

async fn healthz(app: &TestApp) -> u16 {
    reqwest::get(app.url("/healthz"))
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_half_request_heads_are_closed_after_the_timeout_while_others_are_served() {
    let app = spawn_app_with(|s| s.header_read_timeout = Duration::from_secs(1)).await;
    let opened = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        stream.write_all(HALF_HEAD).await.unwrap();
        slow.push(stream);
    }
    // Served while the fifty wait.
    assert_eq!(healthz(&app).await, 200);
    let mut client = app.connect().await;
    let events = client.turn("Suma 2 y 3").await;
    assert_eq!(events.last().unwrap().kind(), "complete");

    for stream in &mut slow {
        let (received, closed) = read_until_closed(stream, Duration::from_secs(10)).await;
        assert!(
            received.is_empty(),
            "a half head got an answer: {received:?}"
        );
        let after = closed - opened;
        assert!(
            after >= Duration::from_millis(950),
            "closed too early, after {after:?}"
        );
    }
    assert_eq!(healthz(&app).await, 200);
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_head_timeout() {
    let app = spawn_app_with(|s| s.header_read_timeout = Duration::from_millis(500)).await;
    let mut silent = TcpStream::connect(app.address).await.unwrap();
    let opened = Instant::now();
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(closed - opened >= Duration::from_millis(450));
}

#[tokio::test]
async fn idle_keep_alive_connections_close_after_the_idle_timeout_and_new_heads_get_the_head_timeout()
 {
    let app = spawn_app_with(|s| {
        s.header_read_timeout = Duration::from_millis(500);
        s.http_idle_timeout = Duration::from_millis(1500);
    })
    .await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

    // Kept alive across requests, then closed once idle for the idle timeout (longer
    // than the head timeout: waiting for a next request is not a slow head).
    let mut idle = TcpStream::connect(app.address).await.unwrap();
    idle.write_all(request).await.unwrap();
    assert!(read_response(&mut idle).await.starts_with("HTTP/1.1 200"));
    idle.write_all(request).await.unwrap();
    assert!(read_response(&mut idle).await.starts_with("HTTP/1.1 200"));
    let answered = Instant::now();
    let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(10)).await;
    let idle_for = closed - answered;
    assert!(
        idle_for >= Duration::from_millis(1400),
        "closed after {idle_for:?}, before the idle timeout"
    );

    // A next request that starts and stalls gets the head timeout from its first byte.
    let mut stalled = TcpStream::connect(app.address).await.unwrap();
    stalled.write_all(request).await.unwrap();
    read_response(&mut stalled).await;
    stalled.write_all(HALF_HEAD).await.unwrap();
    let started = Instant::now();
    let (received, closed) = read_until_closed(&mut stalled, Duration::from_secs(10)).await;
    assert!(received.is_empty());
    let took = closed - started;
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(1400),
        "a stalled head was closed after {took:?}, not after the head timeout"
    );
}

#[tokio::test]
async fn a_request_body_that_stops_arriving_fails_with_400() {
    let app = spawn_app_with(|s| s.header_read_timeout = Duration::from_millis(500)).await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    stream
        .write_all(
            b"POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"message\":",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let response = read_response(&mut stream).await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.contains("stopped arriving"), "{response}");
    assert!(started.elapsed() >= Duration::from_millis(450));
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    // A toolbox of its own: the embedded one's MCP client would hold a connection.
    let toolbox = ToolboxProcess::start(
        SlowCalculator::new(Duration::ZERO),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await;
    let app = spawn_app_with(|s| {
        s.mcp_server_url = Some(toolbox.url());
        s.max_http_connections = 2;
        s.header_read_timeout = Duration::from_secs(30);
    })
    .await;
    let first = TcpStream::connect(app.address).await.unwrap();
    let _second = TcpStream::connect(app.address).await.unwrap();
    // The third connects (the kernel queues it) but is not served yet.
    let mut third = TcpStream::connect(app.address).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(early.is_err(), "served beyond the cap: {early:?}");
    // A slot frees: the queued connection is served.
    drop(first);
    assert!(read_response(&mut third).await.starts_with("HTTP/1.1 200"));
    toolbox.kill().await;
}

#[tokio::test]
async fn websockets_outlive_the_http_timeouts() {
    let app = spawn_app_with(|s| {
        s.header_read_timeout = Duration::from_millis(300);
        s.http_idle_timeout = Duration::from_millis(300);
        s.max_http_connections = 1;
    })
    .await;
    let mut client = app.connect().await;
    // Quiet for longer than both timeouts, then a turn.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let events = client.turn("Suma 2 y 3").await;
    assert_eq!(events.last().unwrap().kind(), "complete");
    // An upgraded WebSocket no longer holds one of the HTTP connection slots.
    assert_eq!(healthz(&app).await, 200);
}
