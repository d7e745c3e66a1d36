//! Tool cards: approval, progress, results paired by call id, and images kept out of
//! storage when large.

use super::*;

#[test]
fn a_tool_card_asks_shows_progress_and_keeps_what_it_returned() {
    use crate::chat::{Approval, Attachment, ToolCall};
    let mut c = Conversation::default();
    let id = c.ask("/call countdown {\"steps\":2}".into());
    feed(
        &mut c,
        &[
            r#"{"type":"start","message":"s","turn_id":"t","ts_ms":1}"#,
            r#"{"type":"tool_call","tool":"countdown","args":{"steps":2},"call_id":"c1","server":"slow","turn_id":"t","ts_ms":2}"#,
            r#"{"type":"approval_required","call_id":"c1","tool":"countdown","args":{"steps":2},"server":"slow","turn_id":"t","ts_ms":3}"#,
        ],
    );
    let call = |c: &Conversation| match &c.turn(id).unwrap().steps[1] {
        Step::Tool(call) => call.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        c.turn(id).unwrap().steps.len(),
        2,
        "one card for the call and its approval"
    );
    assert_eq!(call(&c).approval, Some(Approval::Pending));
    assert_eq!(call(&c).server.as_deref(), Some("slow"));
    feed(
        &mut c,
        &[
            r#"{"type":"approval_resolved","call_id":"c1","approved":true,"turn_id":"t","ts_ms":4}"#,
            r#"{"type":"tool_progress","call_id":"c1","tool":"countdown","progress":1,"total":2,"message":"step 2 of 2","turn_id":"t","ts_ms":5}"#,
        ],
    );
    assert_eq!(call(&c).approval, Some(Approval::Approved));
    let progress = call(&c).progress.unwrap();
    assert_eq!(progress.fraction(), Some(0.5));
    assert_eq!(progress.message.as_deref(), Some("step 2 of 2"));
    feed(
        &mut c,
        &[
            r#"{"type":"tool_result","tool":"countdown","result":"counted 2","call_id":"c1","content":[{"type":"image","mime_type":"image/png","data":"iVBORw0KGgo="},{"type":"resource_link","uri":"https://example.com/r","name":"r"},{"type":"audio"}],"turn_id":"t","ts_ms":6}"#,
        ],
    );
    let done: ToolCall = call(&c);
    assert_eq!(done.result.as_deref(), Some("counted 2"));
    assert_eq!(done.progress, None, "progress ends with the result");
    assert_eq!(
        done.attachments,
        [
            Attachment::Image {
                mime_type: "image/png".into(),
                data: "iVBORw0KGgo=".into()
            },
            Attachment::Link {
                uri: "https://example.com/r".into(),
                name: Some("r".into())
            },
        ]
    );
    // And all of it survives storage.
    let saved = serde_json::to_string(&c).unwrap();
    let restored: Conversation = Conversation::restore(&saved).unwrap();
    assert_eq!(restored, c);
}

#[test]
fn a_denied_call_says_why_and_results_pair_by_call_id() {
    use crate::chat::Approval;
    let mut c = Conversation::default();
    let id = c.ask("q".into());
    feed(
        &mut c,
        &[
            r#"{"type":"start","message":"s","turn_id":"t"}"#,
            r#"{"type":"tool_call","tool":"rm","args":{},"call_id":"a","turn_id":"t"}"#,
            r#"{"type":"tool_call","tool":"rm","args":{},"call_id":"b","turn_id":"t"}"#,
            r#"{"type":"approval_required","call_id":"a","tool":"rm","args":{},"server":"fs","turn_id":"t"}"#,
            r#"{"type":"approval_resolved","call_id":"a","approved":false,"reason":"no","turn_id":"t"}"#,
            r#"{"type":"tool_result","tool":"rm","result":"ok","call_id":"b","turn_id":"t"}"#,
            r#"{"type":"tool_result","tool":"rm","result":"declined","is_error":true,"call_id":"a","turn_id":"t"}"#,
        ],
    );
    let steps = &c.turn(id).unwrap().steps;
    let (Step::Tool(a), Step::Tool(b)) = (&steps[1], &steps[2]) else {
        panic!("{steps:?}")
    };
    assert_eq!(
        a.approval,
        Some(Approval::Denied {
            reason: Some("no".into())
        })
    );
    assert_eq!((a.result.as_deref(), a.is_error), (Some("declined"), true));
    assert_eq!((b.result.as_deref(), b.is_error), (Some("ok"), false));
}

#[test]
fn large_images_are_shown_but_not_stored() {
    let mut c: Conversation = Conversation::default();
    c.ask("q".into());
    let big = "A".repeat(200_000);
    c.apply(&frame(r#"{"type":"start","message":"s","turn_id":"t"}"#));
    c.apply(&frame(
        r#"{"type":"tool_call","tool":"pic","args":{},"call_id":"p","turn_id":"t"}"#,
    ));
    c.apply(&frame(&format!(
        r#"{{"type":"tool_result","tool":"pic","result":"","call_id":"p","content":[{{"type":"image","mime_type":"image/png","data":"{big}"}}],"turn_id":"t"}}"#
    )));
    let saved = serde_json::to_string(&c).unwrap();
    assert!(saved.len() < 10_000, "{} bytes saved", saved.len());
    let restored: Conversation = Conversation::restore(&saved).unwrap();
    let Step::Tool(call) = &restored.turns()[0].steps[1] else {
        panic!()
    };
    assert!(
        matches!(&call.attachments[0], crate::chat::Attachment::Image { data, .. } if data.is_empty())
    );
}
