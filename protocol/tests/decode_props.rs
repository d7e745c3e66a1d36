//! Property tests: decoding client frames never panics, whatever arrives, and every
//! valid message survives a round trip.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use proptest::prelude::*;
use protocol::{ClientMessage, ErrorCode, ServerEvent, ServerFrame};
use serde_json::{Value, json};

/// Arbitrary JSON values, nested a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::String),
        prop_oneof![
            Just("message"),
            Just("cancel"),
            Just("resume"),
            Just("type")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("type".to_owned()),
                    Just("content".to_owned()),
                    Just("session_id".to_owned()),
                    Just("last_seq".to_owned()),
                    "[a-z]{1,8}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        match ClientMessage::decode(&text) {
            Ok(_) => {}
            Err(error) => prop_assert!(!error.message.is_empty()),
        }
    }

    #[test]
    fn arbitrary_bytes_as_text_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = ClientMessage::decode(&text);
    }

    #[test]
    fn arbitrary_json_is_decoded_or_explained(value in json_value()) {
        let text = value.to_string();
        match ClientMessage::decode(&text) {
            Ok(message) => {
                // Whatever decodes re-encodes to an equivalent message.
                let again = serde_json::to_string(&message).unwrap();
                prop_assert_eq!(ClientMessage::decode(&again).unwrap(), message);
            }
            Err(error) => {
                prop_assert_ne!(error.code, ErrorCode::InvalidJson);
                prop_assert!(!error.message.is_empty());
            }
        }
    }

    #[test]
    fn messages_round_trip(content in ".{0,100}", session in "[a-z0-9]{0,20}", seq in any::<u64>()) {
        for message in [
            ClientMessage::Message { content: content.clone() },
            ClientMessage::Cancel {},
            ClientMessage::Resume { session_id: session.clone(), last_seq: seq },
        ] {
            let text = serde_json::to_string(&message).unwrap();
            prop_assert_eq!(ClientMessage::decode(&text).unwrap(), message);
        }
    }

    #[test]
    fn server_frames_round_trip(content in ".{0,100}", seq in any::<u64>(), steps in any::<u32>()) {
        for event in [
            ServerEvent::Response { content: content.clone() },
            ServerEvent::ResponseDelta { content: content.clone() },
            ServerEvent::complete(steps),
            ServerEvent::error(content.clone()),
        ] {
            let frame = ServerFrame { event, turn_id: Some(content.clone()), seq: Some(seq), ts_ms: None };
            let text = serde_json::to_string(&frame).unwrap();
            prop_assert_eq!(serde_json::from_str::<ServerFrame>(&text).unwrap(), frame);
        }
    }
}
