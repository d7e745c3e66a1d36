//! An OTLP/HTTP trace receiver on loopback, as a collector runs it: `POST /v1/traces`
//! with an `ExportTraceServiceRequest` in protobuf, decoded with the official
//! OpenTelemetry protocol types. It keeps every span and every request's headers so
//! tests can assert what the exporter sent.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
    routing::post,
};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse},
    common::v1::{AnyValue, KeyValue, any_value::Value},
    trace::v1::Span,
};
use prost::Message;

/// One span as received, with its resource's `service.name`.
#[derive(Debug, Clone)]
pub struct Received {
    pub span: Span,
    pub service: String,
}

impl Received {
    pub fn name(&self) -> &str {
        &self.span.name
    }

    pub fn trace_id(&self) -> String {
        hex::encode(&self.span.trace_id)
    }

    pub fn span_id(&self) -> String {
        hex::encode(&self.span.span_id)
    }

    pub fn parent_id(&self) -> String {
        hex::encode(&self.span.parent_span_id)
    }

    /// The attributes, as simple values.
    pub fn attributes(&self) -> HashMap<String, Attr> {
        attributes(&self.span.attributes)
    }

    /// The status code (0 unset, 1 ok, 2 error).
    pub fn status(&self) -> i32 {
        self.span.status.as_ref().map_or(0, |s| s.code)
    }
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    Other,
}

fn attributes(list: &[KeyValue]) -> HashMap<String, Attr> {
    list.iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v: &AnyValue| v.value.as_ref()) {
                Some(Value::StringValue(s)) => Attr::Str(s.clone()),
                Some(Value::IntValue(i)) => Attr::Int(*i),
                Some(Value::DoubleValue(d)) => Attr::Double(*d),
                Some(Value::BoolValue(b)) => Attr::Bool(*b),
                _ => Attr::Other,
            };
            (kv.key.clone(), value)
        })
        .collect()
}

#[derive(Default)]
struct Inner {
    spans: Mutex<Vec<Received>>,
    headers: Mutex<Vec<HeaderMap>>,
}

/// The running receiver; `endpoint` is its base URL (the exporter adds `/v1/traces`).
pub struct FakeOtlp {
    pub endpoint: String,
    inner: Arc<Inner>,
}

impl FakeOtlp {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/v1/traces", post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { endpoint, inner }
    }

    pub fn spans(&self) -> Vec<Received> {
        self.inner.spans.lock().unwrap().clone()
    }

    /// The headers of every export request.
    pub fn headers(&self) -> Vec<HeaderMap> {
        self.inner.headers.lock().unwrap().clone()
    }

    /// Waits until the spans received satisfy `done`, failing after 15 s.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let spans = self.spans();
            if done(&spans) {
                return spans;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never received {what}; got {:#?}",
                spans.iter().map(Received::name).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn receive(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, "not an ExportTraceServiceRequest").into_response();
    };
    inner.headers.lock().unwrap().push(headers);
    let mut spans = inner.spans.lock().unwrap();
    for resource_spans in request.resource_spans {
        let resource = resource_spans
            .resource
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        let service = match resource.get("service.name") {
            Some(Attr::Str(name)) => name.clone(),
            _ => String::new(),
        };
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                spans.push(Received {
                    span,
                    service: service.clone(),
                });
            }
        }
    }
    let answer = ExportTraceServiceResponse::default().encode_to_vec();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        answer,
    )
        .into_response()
}
