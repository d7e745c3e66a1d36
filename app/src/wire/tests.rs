//! The hand decoder agrees with serde's, frame for frame.

use protocol::ErrorCode;
use serde_json::json;

use super::*;

/// Every kind of event, with and without its optional fields, as the server sends
/// them (metadata included).
fn corpus() -> Vec<Value> {
    let tool = json!({"name":"add","description":"Add","parameters":{"type":"object","properties":{"a":{"type":"number"}}}});
    let summary = json!({"id":"c1","title":"Suma","created_ms":1,"updated_ms":2,"turns":3});
    vec![
        json!({"type":"ready","protocol":2,"session_id":"s","llm":{"provider":"local","model":"planner","label":"Local"},"tools":[tool]}),
        json!({"type":"ready","protocol":2,"session_id":"s","llm":{"provider":"openai","model":"m","label":"M"},"tools":[{"name":"a__b","description":"","parameters":{},"server":"a"}],"conversation":summary}),
        json!({"type":"ready","protocol":2,"session_id":"s","llm":{"provider":"p","model":"m","label":"l"},"tools":[],"conversation":{"id":"c","title":"","created_ms":0,"updated_ms":0,"turns":0,"usage":{"input_tokens":1,"output_tokens":2,"cost_usd":0.5}}}),
        json!({"type":"start","message":"Procesando","turn_id":"t","seq":1,"ts_ms":1000}),
        json!({"type":"start","message":"Again","replaces":"t0","turn_id":"t","seq":1,"ts_ms":1000}),
        json!({"type":"step","node":"llm","message":"m","turn_id":"t","seq":2}),
        json!({"type":"step","node":"tools","message":"m"}),
        json!({"type":"tool_call","tool":"add","args":{"a":10,"b":5.50},"turn_id":"t"}),
        json!({"type":"tool_call","tool":"add","args":{},"call_id":"c1","server":"toolbox"}),
        json!({"type":"approval_required","call_id":"c1","tool":"rm","args":{"path":"/"},"server":"fs","turn_id":"t","seq":3}),
        json!({"type":"approval_resolved","call_id":"c1","approved":false,"reason":"no"}),
        json!({"type":"approval_resolved","call_id":"c1","approved":true}),
        json!({"type":"tool_progress","call_id":"c1","tool":"slow","progress":3}),
        json!({"type":"tool_progress","call_id":"c1","tool":"slow","progress":0.5,"total":1.0,"message":"half"}),
        json!({"type":"tool_result","tool":"add","result":"15","turn_id":"t","seq":4,"ts_ms":1}),
        json!({"type":"tool_result","tool":"divide","result":"division by zero","is_error":true,"call_id":"c2"}),
        json!({"type":"tool_result","tool":"img","result":"","structured":{"x":[1,2]},"content":[{"type":"image","mime_type":"image/png","data":"AAAA"},{"type":"resource_link","uri":"https://x","name":"x","mime_type":"text/plain"},{"type":"resource_link","uri":"file:///y"},{"type":"audio","data":"?"}]}),
        json!({"type":"response_delta","content":"La ","turn_id":"t","seq":5}),
        json!({"type":"response","content":"La suma de 10 y 5 es 15."}),
        json!({"type":"complete","steps":5,"turn_id":"t","seq":6,"ts_ms":9}),
        json!({"type":"complete","steps":5,"usage":{"input_tokens":10,"output_tokens":2},"total_usage":{"input_tokens":30,"output_tokens":6,"cost_usd":0.001}}),
        json!({"type":"cancelled","turn_id":"t"}),
        json!({"type":"error","message":"down"}),
        json!({"type":"error","message":"down","code":"toolbox_unavailable","turn_id":"t"}),
        json!({"type":"error","message":"?","code":"some_future_code"}),
        json!({"type":"tools_changed","tools":[tool]}),
        // Extra fields from newer servers are ignored, `null` optionals are absent.
        json!({"type":"start","message":"s","future":{"x":1},"replaces":null,"turn_id":null}),
    ]
}

#[test]
fn every_event_decodes_as_serde_decodes_it() {
    let mut seen = std::collections::BTreeSet::new();
    for value in corpus() {
        let text = value.to_string();
        let expected: ServerFrame = serde_json::from_str(&text).expect("serde decodes it");
        assert_eq!(decode(&text), Some(expected.clone()), "{text}");
        // And what serde writes back reads the same.
        let written = serde_json::to_string(&expected).expect("serialises");
        assert_eq!(decode(&written), Some(expected.clone()), "{written}");
        seen.insert(kind(&expected.event));
    }
    assert_eq!(
        seen.len(),
        14,
        "every kind of event is in the corpus: {seen:?}"
    );
}

/// A new kind of event breaks this match: add it to the decoder and the corpus.
fn kind(event: &ServerEvent) -> &'static str {
    match event {
        ServerEvent::Ready { .. }
        | ServerEvent::Start { .. }
        | ServerEvent::Step { .. }
        | ServerEvent::ToolCall { .. }
        | ServerEvent::ApprovalRequired { .. }
        | ServerEvent::ApprovalResolved { .. }
        | ServerEvent::ToolProgress { .. }
        | ServerEvent::ToolResult { .. }
        | ServerEvent::ResponseDelta { .. }
        | ServerEvent::Response { .. }
        | ServerEvent::Complete { .. }
        | ServerEvent::Cancelled { .. }
        | ServerEvent::Error { .. }
        | ServerEvent::ToolsChanged { .. } => event.kind(),
    }
}

#[test]
fn every_error_code_reads_by_its_wire_name() {
    for code in [
        "invalid_json",
        "invalid_message",
        "too_large",
        "rate_limited",
        "busy",
        "toolbox_unavailable",
        "llm_unavailable",
        "timeout",
        "cancelled",
        "iteration_limit",
        "session_expired",
        "resume_gap",
        "unauthorized",
        "interrupted",
        "storage_unavailable",
        "internal",
    ] {
        let by_serde: ErrorCode = serde_json::from_value(json!(code)).unwrap();
        assert_ne!(by_serde, ErrorCode::Unknown, "{code} is a known code");
        assert_eq!(error_code(json!(code)), Some(by_serde), "{code}");
    }
}

#[test]
fn what_serde_refuses_is_refused() {
    for bad in [
        r#"{"type":"start"}"#,
        r#"{"type":"start","message":5}"#,
        r#"{"type":"complete","steps":-1}"#,
        r#"{"type":"complete","steps":1.5}"#,
        r#"{"type":"complete","steps":4294967296}"#,
        r#"{"type":"step","node":"other","message":"m"}"#,
        r#"{"type":"tool_call","tool":"add","args":[1]}"#,
        r#"{"type":"response","content":"x","seq":"1"}"#,
        r#"{"type":"newer_event","x":1}"#,
        r#"{"message":"no type"}"#,
        r#"["response","x"]"#,
        "not json",
    ] {
        assert!(
            serde_json::from_str::<ServerFrame>(bad).is_err(),
            "serde refuses {bad}"
        );
        assert_eq!(decode(bad), None, "{bad}");
    }
}

#[test]
fn conversation_lists_and_details() {
    // As the server's conversations API writes them (server/src/api/conversations.rs).
    let list = r#"[{"id":"b","title":"Suma 10 y 5","created_ms":1,"updated_ms":9,"turns":2,"usage":{"input_tokens":3,"output_tokens":4}},{"id":"a","title":"","created_ms":1,"updated_ms":2,"turns":1}]"#;
    let expected: Vec<ConversationSummary> = serde_json::from_str(list).unwrap();
    assert_eq!(summaries(list), Some(expected));
    assert_eq!(summaries(r#"{"error":"unauthorized"}"#), None);

    let detail = r#"{"conversation":{"id":"b","title":"t","created_ms":1,"updated_ms":2,"turns":2},
        "turns":[{"question":"Suma 10 y 5","status":"complete","turn_id":"t1","response":"15","tool_calls":[],"outcome":"complete","steps":5,"started_ms":1,"ended_ms":2},
                 {"question":"y por 2","status":"running","turn_id":"t2","response":"","tool_calls":[],"outcome":"running","steps":0,"started_ms":3,"ended_ms":0}]}"#;
    assert_eq!(
        questions(detail),
        Some(vec![
            ("t1".to_owned(), "Suma 10 y 5".to_owned()),
            ("t2".to_owned(), "y por 2".to_owned())
        ])
    );
}
