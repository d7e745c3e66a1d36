//! Every wire type against fixed JSON: the exact bytes we send, and what we accept.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use protocol::{
    Args, ClientMessage, ContentItem, ErrorCode, Lang, LlmDescriptor, Node, ServerEvent,
    ServerFrame, ToolDescriptor, Usage, format_number,
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
                server: None,
            }],
            conversation: None,
        },
        r#"{"type":"ready","protocol":1,"session_id":"s1","llm":{"provider":"local","model":"planner","label":"Local planner"},"tools":[{"name":"add","description":"Add two numbers.","parameters":{"type":"object"}}]}"#,
    );
}

#[test]
fn start_round_trips() {
    assert_event_wire(
        ServerEvent::start("Procesando tu solicitud..."),
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
        ServerEvent::tool_call("add", args(json!({"a": 10, "b": 5}))),
        r#"{"type":"tool_call","tool":"add","args":{"a":10,"b":5}}"#,
    );
    assert_event_wire(
        ServerEvent::tool_call("divide", args(json!({"a": -2.5, "b": 0.5}))),
        r#"{"type":"tool_call","tool":"divide","args":{"a":-2.5,"b":0.5}}"#,
    );
}

#[test]
fn tool_result_round_trips() {
    assert_event_wire(
        ServerEvent::tool_result("add", "15", false),
        r#"{"type":"tool_result","tool":"add","result":"15"}"#,
    );
    assert_event_wire(
        ServerEvent::tool_result("divide", "division by zero", true),
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
    assert_event_wire(ServerEvent::complete(5), r#"{"type":"complete","steps":5}"#);
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
        event: ServerEvent::complete(5),
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

#[test]
fn arrays_are_not_messages() {
    // serde reads internally tagged enums from sequences too; the protocol does not.
    let err = ClientMessage::decode(r#"["message","Suma 10 y 5"]"#).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidMessage);
    assert!(err.message.contains("got an array"), "{}", err.message);
    let err = ClientMessage::decode(r#"  ["cancel"]"#).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidMessage);
    assert!(ClientMessage::decode(" \n{\"type\":\"cancel\"}").is_ok());
}

#[test]
fn approvals_edit_and_regenerate_round_trip() {
    let cases = [
        (
            r#"{"type":"approve","call_id":"c1"}"#,
            ClientMessage::Approve {
                call_id: "c1".into(),
            },
        ),
        (
            r#"{"type":"deny","call_id":"c1","reason":"no"}"#,
            ClientMessage::Deny {
                call_id: "c1".into(),
                reason: Some("no".into()),
            },
        ),
        (
            r#"{"type":"deny","call_id":"c2"}"#,
            ClientMessage::Deny {
                call_id: "c2".into(),
                reason: None,
            },
        ),
        (
            r#"{"type":"edit","content":"Suma 1 y 2"}"#,
            ClientMessage::Edit {
                content: "Suma 1 y 2".into(),
            },
        ),
        (r#"{"type":"regenerate"}"#, ClientMessage::Regenerate {}),
    ];
    for (wire, message) in cases {
        assert_eq!(serde_json::to_string(&message).unwrap(), wire);
        assert_eq!(ClientMessage::decode(wire).unwrap(), message);
    }
}

#[test]
fn added_fields_sit_beside_the_seed_ones() {
    assert_event_wire(
        ServerEvent::Start {
            message: "Processing your request...".into(),
            replaces: Some("t0".into()),
        },
        r#"{"type":"start","message":"Processing your request...","replaces":"t0"}"#,
    );
    assert_event_wire(
        ServerEvent::ToolCall {
            tool: "echo".into(),
            args: args(json!({"message": "hi"})),
            call_id: Some("c1".into()),
            server: Some("everything".into()),
        },
        r#"{"type":"tool_call","tool":"echo","args":{"message":"hi"},"call_id":"c1","server":"everything"}"#,
    );
    assert_event_wire(
        ServerEvent::ToolResult {
            tool: "add".into(),
            result: "15".into(),
            is_error: false,
            call_id: Some("c1".into()),
            structured: Some(json!({"result": 15})),
            content: vec![
                ContentItem::Image {
                    mime_type: "image/png".into(),
                    data: "iVBORw0KGgo=".into(),
                },
                ContentItem::ResourceLink {
                    uri: "https://example.com/r".into(),
                    name: Some("r".into()),
                    mime_type: None,
                },
            ],
        },
        r#"{"type":"tool_result","tool":"add","result":"15","call_id":"c1","structured":{"result":15},"content":[{"type":"image","mime_type":"image/png","data":"iVBORw0KGgo="},{"type":"resource_link","uri":"https://example.com/r","name":"r"}]}"#,
    );
    let usage = Usage {
        input_tokens: 1234,
        output_tokens: 56,
        cost_usd: Some(0.5),
    };
    assert_event_wire(
        ServerEvent::Complete {
            steps: 7,
            usage: Some(usage),
            total_usage: Some(usage),
        },
        r#"{"type":"complete","steps":7,"usage":{"input_tokens":1234,"output_tokens":56,"cost_usd":0.5},"total_usage":{"input_tokens":1234,"output_tokens":56,"cost_usd":0.5}}"#,
    );
}

#[test]
fn approval_and_progress_events_round_trip() {
    assert_event_wire(
        ServerEvent::ApprovalRequired {
            call_id: "c1".into(),
            tool: "toggle".into(),
            args: args(json!({})),
            server: "everything".into(),
        },
        r#"{"type":"approval_required","call_id":"c1","tool":"toggle","args":{},"server":"everything"}"#,
    );
    assert_event_wire(
        ServerEvent::ApprovalResolved {
            call_id: "c1".into(),
            approved: false,
            reason: Some("timed out".into()),
        },
        r#"{"type":"approval_resolved","call_id":"c1","approved":false,"reason":"timed out"}"#,
    );
    assert_event_wire(
        ServerEvent::ToolProgress {
            call_id: "c1".into(),
            tool: "long".into(),
            progress: 2.0,
            total: Some(5.0),
            message: None,
        },
        r#"{"type":"tool_progress","call_id":"c1","tool":"long","progress":2.0,"total":5.0}"#,
    );
    assert_event_wire(
        ServerEvent::ToolsChanged { tools: vec![] },
        r#"{"type":"tools_changed","tools":[]}"#,
    );
}

#[test]
fn unknown_content_kinds_still_decode() {
    let event: ServerEvent = serde_json::from_str(
        r#"{"type":"tool_result","tool":"t","result":"r","content":[{"type":"hologram","x":1}]}"#,
    )
    .unwrap();
    let ServerEvent::ToolResult { content, .. } = event else {
        panic!("not a tool_result");
    };
    assert_eq!(content, vec![ContentItem::Unknown]);
}

#[test]
fn usage_adds_up() {
    let mut total = Usage::default();
    total.add(&Usage {
        input_tokens: 10,
        output_tokens: 2,
        cost_usd: None,
    });
    total.add(&Usage {
        input_tokens: 5,
        output_tokens: 1,
        cost_usd: Some(0.25),
    });
    assert_eq!((total.input_tokens, total.output_tokens), (15, 3));
    assert_eq!(total.cost_usd, Some(0.25));
}

#[test]
fn languages_from_headers() {
    assert_eq!(Lang::from_header("es-ES,es;q=0.9"), Some(Lang::Es));
    assert_eq!(Lang::from_header("fr, en-US;q=0.5"), Some(Lang::En));
    assert_eq!(Lang::from_header("fr"), None);
    assert_eq!(Lang::from_header("estonian-ish"), None);
    assert_eq!(serde_json::to_string(&Lang::Es).unwrap(), r#""es""#);
}
