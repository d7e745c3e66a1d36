//! Spawns the real application on a free port and talks to it like a client would.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use futures::{SinkExt, StreamExt};
use protocol::{ErrorCode, ServerEvent, ServerFrame};
use server::{Application, Settings, llm::Llm, state::AppState};
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};
use tokio_util::sync::CancellationToken;

/// How long a test waits for one event before failing.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct TestApp {
    pub address: SocketAddr,
    /// The running server's state, to look at what it holds.
    pub state: AppState,
    stop: CancellationToken,
    running: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = toolbox::telemetry::init("debug", toolbox::telemetry::LogFormat::Pretty);
    }
}

/// The server with default settings, its embedded toolbox, on a free port.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The server with settings adjusted by `configure`.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn(configure, None).await
}

/// The server driven by `llm` instead of the configured provider.
pub async fn spawn_app_with_llm(
    llm: Arc<dyn Llm>,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    spawn(configure, Some(llm)).await
}

async fn spawn(configure: impl FnOnce(&mut Settings), llm: Option<Arc<dyn Llm>>) -> TestApp {
    init_logs();
    // The tests' own HTTP clients need the process's TLS provider too.
    server::tools::tls::install_crypto_provider();
    let mut settings = Settings::for_tests();
    configure(&mut settings);
    let application = match llm {
        Some(llm) => Application::build_with_llm(settings, llm).await,
        None => Application::build(settings).await,
    }
    .expect("application builds");
    let address = application.address();
    let state = application.state().clone();
    let stop = CancellationToken::new();
    let signal = stop.clone();
    let running = tokio::spawn(async move {
        application
            .run_until_stopped(async move { signal.cancelled().await })
            .await
            .expect("server runs");
    });
    TestApp {
        address,
        state,
        stop,
        running: Some(running),
    }
}

impl TestApp {
    /// Shuts the server down as SIGTERM would, and waits until it has stopped.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(running) = self.running.take() {
            running.await.expect("the server stops cleanly");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// One metric's value from `/metrics` (the first sample whose name and labels
    /// start with `series`, e.g. `toolstream_turns_running`).
    pub async fn metric(&self, series: &str) -> f64 {
        let text = reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .find(|line| line.starts_with(series))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0.0)
    }

    /// Waits until `series` reads `value`, failing after a few seconds.
    pub async fn wait_for_metric(&self, series: &str, value: f64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.metric(series).await;
            if now == value {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{series} stayed at {now}, expected {value}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `/readyz`'s body.
    pub async fn readiness(&self) -> serde_json::Value {
        reqwest::get(self.url("/readyz"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits until `/readyz` reports each of `names` in `state` (MCP servers connect
    /// and stdio ones start in the background), failing after 30 s.
    pub async fn wait_servers(&self, names: &[&str], state: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let body = self.readiness().await;
            let servers = body["servers"].as_array().cloned().unwrap_or_default();
            let reached = names.iter().all(|name| {
                servers
                    .iter()
                    .any(|s| s["name"] == *name && s["state"] == state)
            });
            if reached {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "servers {names:?} never became {state}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A WebSocket client on `/ws`, past the `ready` event.
    pub async fn connect(&self) -> WsClient {
        let mut client = self.connect_raw().await;
        match client.next_event().await {
            ServerEvent::Ready { .. } => client,
            other => panic!("expected ready first, got {other:?}"),
        }
    }

    /// A WebSocket client on `/ws` that has read nothing yet. It has no owner cookie:
    /// the server gives it one (see [`WsClient::cookie`]).
    pub async fn connect_raw(&self) -> WsClient {
        self.connect_raw_as(None).await
    }

    /// A WebSocket client presenting the owner cookie `cookie` (as
    /// `toolstream_owner=…`), past the `ready` event.
    pub async fn connect_as(&self, cookie: &str) -> WsClient {
        let mut client = self.connect_raw_as(Some(cookie)).await;
        match client.next_event().await {
            ServerEvent::Ready { .. } => client,
            other => panic!("expected ready first, got {other:?}"),
        }
    }

    /// A WebSocket client with or without an owner cookie, that has read nothing.
    pub async fn connect_raw_as(&self, cookie: Option<&str>) -> WsClient {
        connect_to(self.address, cookie).await
    }
}

/// A WebSocket client on the server at `address`, with or without an owner cookie,
/// that has read nothing yet.
pub async fn connect_to(address: SocketAddr, cookie: Option<&str>) -> WsClient {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{address}/ws").into_client_request().unwrap();
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", cookie.parse().unwrap());
    }
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("WebSocket connects");
    let given = owner_cookie(response.headers());
    WsClient {
        socket,
        cookie: cookie.map(str::to_owned).or(given),
    }
}

/// The `toolstream_owner=…` pair of a response's `Set-Cookie`, if it has one.
pub fn owner_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("toolstream_owner="))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

pub struct WsClient {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The owner cookie this client presents (`toolstream_owner=…`).
    pub cookie: Option<String>,
}

impl WsClient {
    /// The owner cookie, for another connection of the same owner.
    pub fn owner(&self) -> &str {
        self.cookie
            .as_deref()
            .expect("the server set an owner cookie")
    }

    /// Sends `{"type":"resume",…}`.
    pub async fn resume(&mut self, session_id: &str, last_seq: u64) {
        let frame =
            serde_json::json!({ "type": "resume", "session_id": session_id, "last_seq": last_seq });
        self.send_text(&frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::text(text))
            .await
            .expect("frame sent");
    }

    /// Sends a JSON value as a text frame.
    pub async fn send_json(&mut self, value: serde_json::Value) {
        self.send_text(&value.to_string()).await;
    }

    /// Reads events until one matches `wanted`, returning the ones before it and it.
    pub async fn until(&mut self, wanted: impl Fn(&ServerEvent) -> bool) -> Vec<ServerEvent> {
        let mut events = Vec::new();
        loop {
            let event = self.next_event().await;
            let found = wanted(&event);
            events.push(event);
            if found {
                return events;
            }
        }
    }

    /// Sends `{"type":"message","content":…}`.
    pub async fn say(&mut self, content: &str) {
        let frame = serde_json::json!({ "type": "message", "content": content });
        self.send_text(&frame.to_string()).await;
    }

    /// The next frame, as parsed metadata and event.
    pub async fn next_frame(&mut self) -> ServerFrame {
        loop {
            let message = tokio::time::timeout(EVENT_TIMEOUT, self.socket.next())
                .await
                .expect("an event within the timeout")
                .expect("the socket is open")
                .expect("a valid frame");
            match message {
                Message::Text(text) => {
                    return serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("invalid event {text}: {e}"));
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    pub async fn next_event(&mut self) -> ServerEvent {
        self.next_frame().await.event
    }

    /// Every event of one turn, up to and including `complete` or `error`.
    pub async fn turn(&mut self, content: &str) -> Vec<ServerEvent> {
        self.say(content).await;
        self.collect_turn().await
    }

    /// The events of the running turn, up to its terminal one. `tools_changed`, which
    /// belongs to the connection rather than the turn, is left out.
    pub async fn collect_turn(&mut self) -> Vec<ServerEvent> {
        let mut events = Vec::new();
        loop {
            let event = self.next_event().await;
            if matches!(event, ServerEvent::ToolsChanged { .. }) {
                continue;
            }
            let done = event.is_terminal();
            events.push(event);
            if done {
                return events;
            }
        }
    }
}

/// A loopback address where nothing listens, reserved for the caller: a bound socket
/// that does not listen (connections to it are refused), so no other test can take
/// the port meanwhile. Listen on the socket to bring a server up there later.
pub fn refused_address() -> (tokio::net::TcpSocket, SocketAddr) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = socket.local_addr().unwrap();
    (socket, address)
}

/// Shorthand for the object `{"a": a, "b": b}` as JSON text.
pub fn args_json(event: &ServerEvent) -> String {
    match event {
        ServerEvent::ToolCall { args, .. } => serde_json::to_string(args).unwrap(),
        other => panic!("not a tool_call: {other:?}"),
    }
}

/// `event` with only the seed contract's fields: `tool_call` and `tool_result`
/// without what the MCP host added (`call_id`, `server`, `structured`, `content`).
pub fn seed(event: &ServerEvent) -> ServerEvent {
    match event {
        ServerEvent::ToolCall { tool, args, .. } => {
            ServerEvent::tool_call(tool.clone(), args.clone())
        }
        ServerEvent::ToolResult {
            tool,
            result,
            is_error,
            ..
        } => ServerEvent::tool_result(tool.clone(), result.clone(), *is_error),
        other => other.clone(),
    }
}

/// The events' `type`s, in order.
pub fn kinds(events: &[ServerEvent]) -> Vec<&'static str> {
    events.iter().map(ServerEvent::kind).collect()
}

/// Asserts `event` is an `error` with `code` whose message contains `needle`; returns
/// the message.
pub fn assert_error(event: &ServerEvent, code: ErrorCode, needle: &str) -> String {
    match event {
        ServerEvent::Error {
            message,
            code: Some(c),
        } if *c == code => {
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
            message.clone()
        }
        other => panic!("expected an error with code {code:?}, got {other:?}"),
    }
}
