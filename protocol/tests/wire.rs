//! Every wire type against fixed JSON: the exact bytes we send, and what we accept.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use protocol::{
    Args, ClientMessage, ErrorCode, LlmDescriptor, Node, ServerEvent, ServerFrame, ToolDescriptor,
    format_number,
};
use serde_json::json;

fn args(value: serde_json::Value) -> Args {
    match value {
        serde_json::Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// Serialises `event` and checks the exact text, then parses that text back.
fn assert_event_wire(event: ServerEvent, wire: &str) {
    let text = serde_json::to_string(&event).expect("serialises");
    assert_eq!(text, wire);
    let back: ServerEvent = serde_json::from_str(wire).expect("parses");
    assert_eq!(back, event);
    // A bare event is also a valid frame without metadata.
    let frame: ServerFrame = serde_json::from_str(wire).expect("parses as frame");
    assert_eq!(frame, ServerFrame::from(event));
}

#[test]
fn client_message_round_trips() {
    let wire = r#"{"type":"message","content":"Suma 10 y 5"}"#;
    let message = ClientMessage::Message {
        content: "Suma 10 y 5".into(),
    };
    assert_eq!(serde_json::to_string(&message).unwrap(), wire);
    assert_eq!(ClientMessage::decode(wire).unwrap(), message);
}

#[test]
fn cancel_round_trips() {
    let wire = r#"{"type":"cancel"}"#;
    assert_eq!(
        serde_json::to_string(&ClientMessage::Cancel {}).unwrap(),
        wire
    );
    assert_eq!(
        ClientMessage::decode(wire).unwrap(),
        ClientMessage::Cancel {}
    );
}

#[test]
fn resume_round_trips() {
    let wire = r#"{"type":"resume","session_id":"abc","last_seq":12}"#;
    let message = ClientMessage::Resume {
        session_id: "abc".into(),
        last_seq: 12,
    };
    assert_eq!(serde_json::to_string(&message).unwrap(), wire);
    assert_eq!(ClientMessage::decode(wire).unwrap(), message);
}

#[test]
fn response_delta_and_cancelled_round_trip() {
    assert_event_wire(
        ServerEvent::ResponseDelta {
            content: "La suma".into(),
        },
        r#"{"type":"response_delta","content":"La suma"}"#,
    );
    assert_event_wire(ServerEvent::Cancelled {}, r#"{"type":"cancelled"}"#);
    assert!(ServerEvent::Cancelled {}.is_terminal());
}

#[test]
fn client_message_ignores_unknown_fields() {
    let decoded = ClientMessage::decode(r#"{"content":"hi","type":"message","extra":1}"#);
    assert_eq!(
        decoded.unwrap(),
        ClientMessage::Message {
            content: "hi".into()
        }
    );
}

#[test]
fn ready_round_trips() {
    assert_event_wire(
        ServerEvent::Ready {
            protocol: 1,
            session_id: "s1".into(),
            llm: LlmDescriptor {
                provider: "local".into(),
                model: "planner".into(),
                label: "Local planner".into(),
            },
            tools: vec![ToolDescriptor {
                name: "add".into(),
                description: "Add two numbers.".into(),
                parameters: json!({"type": "object"}),
            }],
        },
        r#"{"type":"ready","protocol":1,"session_id":"s1","llm":{"provider":"local","model":"planner","label":"Local planner"},"tools":[{"name":"add","description":"Add two numbers.","parameters":{"type":"object"}}]}"#,
    );
}

#[test]
fn start_round_trips() {
    assert_event_wire(
        ServerEvent::Start {
            message: "Procesando tu solicitud...".into(),
        },
        r#"{"type":"start","message":"Procesando tu solicitud..."}"#,
    );
}

#[test]
fn step_round_trips() {
    assert_event_wire(
        ServerEvent::Step {
            node: Node::Llm,
            message: "Consultando a Bedrock...".into(),
        },
        r#"{"type":"step","node":"llm","message":"Consultando a Bedrock..."}"#,
    );
    assert_event_wire(
        ServerEvent::Step {
            node: Node::Tools,
            message: "x".into(),
        },
        r#"{"type":"step","node":"tools","message":"x"}"#,
    );
}

#[test]
fn tool_call_keeps_numbers_as_given() {
    assert_event_wire(
        ServerEvent::ToolCall {
            tool: "add".into(),
            args: args(json!({"a": 10, "b": 5})),
        },
        r#"{"type":"tool_call","tool":"add","args":{"a":10,"b":5}}"#,
    );
    assert_event_wire(
        ServerEvent::ToolCall {
            tool: "divide".into(),
            args: args(json!({"a": -2.5, "b": 0.5})),
        },
        r#"{"type":"tool_call","tool":"divide","args":{"a":-2.5,"b":0.5}}"#,
    );
}

#[test]
fn tool_result_round_trips() {
    assert_event_wire(
        ServerEvent::ToolResult {
            tool: "add".into(),
            result: "15".into(),
            is_error: false,
        },
        r#"{"type":"tool_result","tool":"add","result":"15"}"#,
    );
    assert_event_wire(
        ServerEvent::ToolResult {
            tool: "divide".into(),
            result: "division by zero".into(),
            is_error: true,
        },
        r#"{"type":"tool_result","tool":"divide","result":"division by zero","is_error":true}"#,
    );
}

#[test]
fn response_round_trips() {
    assert_event_wire(
        ServerEvent::Response {
            content: "La suma de 10 y 5 es 15.".into(),
        },
        r#"{"type":"response","content":"La suma de 10 y 5 es 15."}"#,
    );
}

#[test]
fn complete_round_trips() {
    assert_event_wire(
        ServerEvent::Complete { steps: 5 },
        r#"{"type":"complete","steps":5}"#,
    );
}

#[test]
fn error_round_trips_with_and_without_code() {
    assert_event_wire(
        ServerEvent::error("boom"),
        r#"{"type":"error","message":"boom"}"#,
    );
    assert_event_wire(
        ServerEvent::error_with_code(ErrorCode::ToolboxUnavailable, "down"),
        r#"{"type":"error","message":"down","code":"toolbox_unavailable"}"#,
    );
}

#[test]
fn unknown_error_codes_from_newer_servers_still_decode() {
    let event: ServerEvent =
        serde_json::from_str(r#"{"type":"error","message":"m","code":"brand_new"}"#).unwrap();
    assert_eq!(event, ServerEvent::error_with_code(ErrorCode::Unknown, "m"));
}

#[test]
fn frame_metadata_sits_beside_type() {
    let frame = ServerFrame {
        event: ServerEvent::Complete { steps: 5 },
        turn_id: Some("t-1".into()),
        seq: Some(7),
        ts_ms: Some(1_700_000_000_000),
    };
    let wire = r#"{"type":"complete","steps":5,"turn_id":"t-1","seq":7,"ts_ms":1700000000000}"#;
    assert_eq!(serde_json::to_string(&frame).unwrap(), wire);
    assert_eq!(serde_json::from_str::<ServerFrame>(wire).unwrap(), frame);
}

#[test]
fn decode_explains_bad_frames() {
    let cases = [
        ("not json", ErrorCode::InvalidJson, "not valid JSON"),
        ("[1,2]", ErrorCode::InvalidMessage, "got an array"),
        ("\"hi\"", ErrorCode::InvalidMessage, "got a string"),
        (
            r#"{"content":"x"}"#,
            ErrorCode::InvalidMessage,
            "no \"type\"",
        ),
        (
            r#"{"type":5}"#,
            ErrorCode::InvalidMessage,
            "must be a string",
        ),
        (
            r#"{"type":"shout"}"#,
            ErrorCode::InvalidMessage,
            "unknown message type \"shout\"",
        ),
        (
            r#"{"type":"message"}"#,
            ErrorCode::InvalidMessage,
            "missing field `content`",
        ),
        (
            r#"{"type":"message","content":5}"#,
            ErrorCode::InvalidMessage,
            "invalid type",
        ),
    ];
    for (wire, code, needle) in cases {
        let err = ClientMessage::decode(wire).expect_err(wire);
        assert_eq!(err.code, code, "{wire}");
        assert!(err.message.contains(needle), "{wire}: {}", err.message);
    }
}

#[test]
fn numbers_format_without_needless_fraction() {
    assert_eq!(format_number(15.0), "15");
    assert_eq!(format_number(-3.0), "-3");
    assert_eq!(format_number(-0.0), "0");
    assert_eq!(format_number(2.5), "2.5");
    assert_eq!(format_number(0.1 + 0.2), "0.30000000000000004");
    assert_eq!(format_number(1e20), "100000000000000000000");
    assert_eq!(format_number(1.5e-7), "0.00000015");
}
