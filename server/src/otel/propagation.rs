//! W3C trace context for MCP servers: a tool call carries the `traceparent` (and
//! `tracestate`) of its `execute_tool` span in the request's `_meta` (as MCP's
//! trace-context convention puts it, for every transport, stdio included), and over
//! HTTP also as headers, so a server's own spans join the turn's trace.
//!
//! The context is read where the call starts (the span is current there); rmcp sends
//! the request from a task of its own, where only the message still knows it, so the
//! HTTP client copies it from `_meta` to the headers ([`headers_for`]).

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use reqwest::header::{HeaderName, HeaderValue};
use rmcp::model::{ClientJsonRpcMessage, GetMeta, JsonRpcMessage, RequestMetaObject};

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

/// The current span's trace context as request `_meta`; `None` when no trace is
/// being recorded (traces off, or no span of a trace is current).
pub fn current_meta() -> Option<RequestMetaObject> {
    let context = opentelemetry::Context::current();
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    let traceparent = carrier.remove(TRACEPARENT)?;
    let mut meta = RequestMetaObject::default();
    meta.set_traceparent(traceparent);
    if let Some(state) = carrier.remove(TRACESTATE).filter(|s| !s.is_empty()) {
        meta.set_tracestate(state);
    }
    Some(meta)
}

/// The trace-context headers for a message on its way to an HTTP server: those of
/// its `_meta`, when it is a request that carries them.
pub fn headers_for(message: &ClientJsonRpcMessage) -> Vec<(HeaderName, HeaderValue)> {
    let JsonRpcMessage::Request(request) = message else {
        return Vec::new();
    };
    let meta = request.request.get_meta();
    [
        (TRACEPARENT, meta.get_traceparent()),
        (TRACESTATE, meta.get_tracestate()),
    ]
    .into_iter()
    .filter_map(|(name, value)| {
        let value = HeaderValue::from_str(value?).ok()?;
        Some((HeaderName::from_static(name), value))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use rmcp::model::{
        CallToolRequest, CallToolRequestParams, ClientRequest, JsonRpcRequest, NumberOrString,
    };

    use super::*;

    #[test]
    fn no_trace_no_context() {
        assert!(current_meta().is_none());
    }

    #[test]
    fn the_request_meta_becomes_headers() {
        let mut request =
            ClientRequest::CallToolRequest(CallToolRequest::new(CallToolRequestParams::new("add")));
        let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        request.get_meta_mut().set_traceparent(traceparent);
        let message =
            ClientJsonRpcMessage::Request(JsonRpcRequest::new(NumberOrString::Number(1), request));
        let headers = headers_for(&message);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].0, "traceparent");
        assert_eq!(headers[0].1, traceparent);
    }
}
