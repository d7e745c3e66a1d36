//! A fake Bedrock Runtime on loopback that speaks the real wire format: Converse as
//! JSON, ConverseStream as `application/vnd.amazon.eventstream` frames encoded with
//! `aws-smithy-eventstream`, errors with `x-amzn-errortype`. It answers from a script,
//! one reply per request, and records every request so tests can assert what the
//! real SDK sent.

use std::sync::Arc;

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::fake_script::Script;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A ConverseStream answer: these events, then the end of the body.
    Stream(Vec<Event>),
    /// A ConverseStream answer whose connection breaks after these events, once the
    /// test calls [`FakeBedrock::cut`] (so the events surely reached the client).
    StreamCut(Vec<Event>),
    /// A ConverseStream answer that sends these events, then nothing, forever.
    StreamStall(Vec<Event>),
    /// A Converse answer (JSON body).
    Converse(Value),
    /// An error response, as Bedrock sends them.
    Error {
        status: u16,
        error_type: &'static str,
        message: String,
    },
    /// A 429 `ThrottlingException` with this `x-amz-retry-after` (milliseconds).
    Throttled { retry_after: &'static str },
}

/// One ConverseStream event: its `:event-type` and JSON payload.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: &'static str,
    pub payload: Value,
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `converse` or `converse-stream`.
    pub operation: String,
    pub model: String,
    pub body: Value,
    pub headers: HeaderMap,
}

type Inner = Script<Reply, Recorded>;

/// The running fake. Stops when dropped (with the test's runtime).
pub struct FakeBedrock {
    pub url: String,
    inner: Arc<Inner>,
}

impl FakeBedrock {
    /// Starts the fake on `127.0.0.1:0` with its replies in order.
    pub async fn start(script: Vec<Reply>) -> Self {
        Self::start_on(std::net::TcpListener::bind("127.0.0.1:0").unwrap(), script).await
    }

    /// Starts the fake on a listener bound beforehand (to know its address early).
    pub async fn start_on(listener: std::net::TcpListener, script: Vec<Reply>) -> Self {
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let inner = Inner::new(script);
        let app = Router::new()
            .route("/model/{model}/{operation}", post(handle))
            .with_state(inner.clone());
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, inner }
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests()
    }

    /// Breaks the connection of the `StreamCut` answer (now, or as soon as it has
    /// sent its events).
    pub fn cut(&self) {
        self.inner.cut();
    }
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    Path((model, operation)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let request = Recorded {
        operation: operation.clone(),
        model,
        body,
        headers,
    };
    let Some(reply) = inner.answer(request) else {
        return error(
            500,
            "InternalServerException",
            "the fake has no reply scripted",
        );
    };
    let streaming = operation == "converse-stream";
    match reply {
        Reply::Error {
            status,
            error_type,
            message,
        } => error(status, error_type, &message),
        Reply::Throttled { retry_after } => {
            let mut response = error(429, "ThrottlingException", "Too many requests");
            response
                .headers_mut()
                .insert("x-amz-retry-after", retry_after.parse().unwrap());
            response
        }
        Reply::Converse(body) if !streaming => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response(),
        Reply::Stream(events) if streaming => stream(events, End::Close),
        Reply::StreamCut(events) if streaming => stream(events, End::Break(inner.clone())),
        Reply::StreamStall(events) if streaming => stream(events, End::Stall),
        other => error(
            500,
            "InternalServerException",
            &format!("the fake had {other:?} scripted for {operation}"),
        ),
    }
}

fn error(status: u16, error_type: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    let headers = [
        (header::CONTENT_TYPE, "application/json".to_owned()),
        (
            header::HeaderName::from_static("x-amzn-errortype"),
            format!("{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
        ),
        (
            header::HeaderName::from_static("x-amzn-requestid"),
            "fake-request-id".to_owned(),
        ),
    ];
    (status, headers, json!({ "message": message }).to_string()).into_response()
}

enum End {
    Close,
    Break(Arc<Inner>),
    Stall,
}

/// Encodes one event as an event-stream frame, as Bedrock does (with its padding
/// field `p`, which clients ignore).
fn frame(event: &Event) -> Bytes {
    let mut payload = event.payload.clone();
    payload["p"] = json!("abcdefghij");
    let message = Message::new(payload.to_string().into_bytes())
        .add_header(Header::new(
            ":event-type",
            HeaderValue::String(event.kind.into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ))
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String("event".into()),
        ));
    let mut bytes = Vec::new();
    write_message_to(&message, &mut bytes).unwrap();
    bytes.into()
}

fn stream(events: Vec<Event>, end: End) -> Response {
    let frames: Vec<Result<Bytes, std::io::Error>> = events.iter().map(|e| Ok(frame(e))).collect();
    let frames = futures::stream::iter(frames);
    let body = match end {
        End::Close => Body::from_stream(frames),
        End::Break(inner) => inner.body_cut_on_cue(frames),
        End::Stall => Body::from_stream(frames.chain(futures::stream::pending())),
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/vnd.amazon.eventstream")
        .header("x-amzn-requestid", "fake-request-id")
        .body(body)
        .unwrap()
}

// Event builders, named after the ConverseStream events.

pub fn message_start() -> Event {
    Event {
        kind: "messageStart",
        payload: json!({ "role": "assistant" }),
    }
}

pub fn text_delta(index: i32, text: &str) -> Event {
    Event {
        kind: "contentBlockDelta",
        payload: json!({ "contentBlockIndex": index, "delta": { "text": text } }),
    }
}

pub fn tool_start(index: i32, id: &str, name: &str) -> Event {
    Event {
        kind: "contentBlockStart",
        payload: json!({
            "contentBlockIndex": index,
            "start": { "toolUse": { "toolUseId": id, "name": name } }
        }),
    }
}

pub fn tool_input(index: i32, fragment: &str) -> Event {
    Event {
        kind: "contentBlockDelta",
        payload: json!({ "contentBlockIndex": index, "delta": { "toolUse": { "input": fragment } } }),
    }
}

pub fn block_stop(index: i32) -> Event {
    Event {
        kind: "contentBlockStop",
        payload: json!({ "contentBlockIndex": index }),
    }
}

pub fn message_stop(reason: &str) -> Event {
    Event {
        kind: "messageStop",
        payload: json!({ "stopReason": reason }),
    }
}

pub fn metadata() -> Event {
    Event {
        kind: "metadata",
        payload: json!({
            "usage": { "inputTokens": 120, "outputTokens": 20, "totalTokens": 140 },
            "metrics": { "latencyMs": 42 }
        }),
    }
}

/// A streamed answer of text only, in these pieces.
pub fn text_answer(pieces: &[&str]) -> Reply {
    let mut events = vec![message_start()];
    events.extend(pieces.iter().map(|p| text_delta(0, p)));
    events.extend([block_stop(0), message_stop("end_turn"), metadata()]);
    Reply::Stream(events)
}

/// A streamed request for one tool, its input JSON in these fragments.
pub fn tool_use(id: &str, name: &str, fragments: &[&str]) -> Reply {
    let mut events = vec![message_start(), tool_start(0, id, name)];
    events.extend(fragments.iter().map(|f| tool_input(0, f)));
    events.extend([block_stop(0), message_stop("tool_use"), metadata()]);
    Reply::Stream(events)
}

/// A Converse (non-streaming) answer with these content blocks.
pub fn converse(content: Value, stop_reason: &str) -> Reply {
    Reply::Converse(json!({
        "output": { "message": { "role": "assistant", "content": content } },
        "stopReason": stop_reason,
        "usage": { "inputTokens": 120, "outputTokens": 20, "totalTokens": 140 },
        "metrics": { "latencyMs": 42 }
    }))
}

pub fn service_error(status: u16, error_type: &'static str, message: &str) -> Reply {
    Reply::Error {
        status,
        error_type,
        message: message.into(),
    }
}
