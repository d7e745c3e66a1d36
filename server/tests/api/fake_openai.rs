//! A fake OpenAI-compatible server on loopback: `POST /v1/chat/completions` answered
//! from a script with server-sent events (`data: {chunk}` … `data: [DONE]`), a whole
//! JSON completion, or an error status, every request recorded so tests can assert
//! what the client sent.

use std::sync::Arc;

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};

use crate::fake_script::Script;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// These events' data, each as `data: …\n\n`, then the end of the body.
    Sse(Vec<String>),
    /// These events, then a broken connection once the test calls
    /// [`FakeOpenAi::cut`].
    SseCut(Vec<String>),
    /// A whole `chat.completion` as `application/json`, as servers that ignore
    /// `stream: true` answer.
    Json(Value),
    /// An error status with a JSON body (and `Retry-After`, if given).
    Status {
        status: u16,
        body: Value,
        retry_after: Option<&'static str>,
    },
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub body: Value,
    pub headers: HeaderMap,
}

type Inner = Script<Reply, Recorded>;

/// The running fake; its base URL ends in `/v1`.
pub struct FakeOpenAi {
    pub base_url: String,
    inner: Arc<Inner>,
}

impl FakeOpenAi {
    pub async fn start(script: Vec<Reply>) -> Self {
        let inner = Inner::new(script);
        let app = Router::new()
            .route("/v1/chat/completions", post(handle))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base_url, inner }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests()
    }

    /// Breaks the connection of the `SseCut` answer.
    pub fn cut(&self) {
        self.inner.cut();
    }
}

async fn handle(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(reply) = inner.answer(Recorded { body, headers }) else {
        return status(
            500,
            json!({ "error": { "message": "the fake has no reply scripted" } }),
            None,
        );
    };
    match reply {
        Reply::Sse(events) => sse(events, None),
        Reply::SseCut(events) => sse(events, Some(inner.clone())),
        Reply::Json(body) => status(200, body, None),
        Reply::Status {
            status: code,
            body,
            retry_after,
        } => status(code, body, retry_after),
    }
}

fn status(code: u16, body: Value, retry_after: Option<&'static str>) -> Response {
    let mut response = (
        StatusCode::from_u16(code).unwrap(),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if let Some(wait) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, wait.parse().unwrap());
    }
    response
}

fn sse(events: Vec<String>, cut: Option<Arc<Inner>>) -> Response {
    let chunks: Vec<Result<Bytes, std::io::Error>> = events
        .into_iter()
        .map(|data| Ok(Bytes::from(format!("data: {data}\n\n"))))
        .collect();
    let chunks = futures::stream::iter(chunks);
    let body = match cut {
        None => Body::from_stream(chunks),
        Some(inner) => inner.body_cut_on_cue(chunks),
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(body)
        .unwrap()
}

// Chunk builders, shaped like OpenAI's `chat.completion.chunk`.

fn chunk(delta: Value, finish_reason: Option<&str>) -> String {
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "fake-model",
        "choices": [{ "index": 0, "delta": delta, "finish_reason": finish_reason }]
    })
    .to_string()
}

pub fn content(text: &str) -> String {
    chunk(json!({ "role": "assistant", "content": text }), None)
}

pub fn finish(reason: &str) -> String {
    chunk(json!({}), Some(reason))
}

pub fn done() -> String {
    "[DONE]".into()
}

pub fn call_start(index: u32, id: &str, name: &str) -> String {
    chunk(
        json!({ "tool_calls": [{
            "index": index, "id": id, "type": "function",
            "function": { "name": name, "arguments": "" }
        }] }),
        None,
    )
}

pub fn call_arguments(index: u32, fragment: &str) -> String {
    chunk(
        json!({ "tool_calls": [{ "index": index, "function": { "arguments": fragment } }] }),
        None,
    )
}

/// The last chunk a server sends when asked for `stream_options.include_usage`: no
/// choices, the call's usage.
pub fn usage(prompt_tokens: u64, completion_tokens: u64) -> String {
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "fake-model",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens
        }
    })
    .to_string()
}

/// `reply` (streamed) with a usage chunk before its `[DONE]`.
pub fn with_usage(reply: Reply, prompt_tokens: u64, completion_tokens: u64) -> Reply {
    match reply {
        Reply::Sse(mut events) => {
            let at = events.len().saturating_sub(1);
            events.insert(at, usage(prompt_tokens, completion_tokens));
            Reply::Sse(events)
        }
        other => other,
    }
}

/// A streamed text-only answer in these pieces.
pub fn text_answer(pieces: &[&str]) -> Reply {
    let mut events: Vec<String> = pieces.iter().map(|p| content(p)).collect();
    events.extend([finish("stop"), done()]);
    Reply::Sse(events)
}

/// A streamed call of one tool, its arguments in these fragments.
pub fn tool_call(id: &str, name: &str, fragments: &[&str]) -> Reply {
    let mut events = vec![call_start(0, id, name)];
    events.extend(fragments.iter().map(|f| call_arguments(0, f)));
    events.extend([finish("tool_calls"), done()]);
    Reply::Sse(events)
}

pub fn error_status(status: u16, message: &str) -> Reply {
    Reply::Status {
        status,
        body: json!({ "error": { "message": message, "type": "invalid_request_error" } }),
        retry_after: None,
    }
}
