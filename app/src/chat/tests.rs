//! The reducer against fixed event sequences, as the server sends them.

use protocol::{ErrorCode, Usage};

use super::*;

mod tools;

fn frame(json: &str) -> ServerFrame {
    serde_json::from_str(json).expect("valid frame")
}

fn feed(conversation: &mut Conversation, frames: &[&str]) -> Vec<Applied> {
    frames
        .iter()
        .map(|json| conversation.apply(&frame(json)))
        .collect()
}

const SUMA: [&str; 6] = [
    r#"{"type":"start","message":"Procesando","turn_id":"t1","seq":1,"ts_ms":1000}"#,
    r#"{"type":"step","node":"llm","message":"Consultando","turn_id":"t1","seq":2,"ts_ms":1001}"#,
    r#"{"type":"tool_call","tool":"add","args":{"a":10,"b":5},"turn_id":"t1","seq":3,"ts_ms":1002}"#,
    r#"{"type":"tool_result","tool":"add","result":"15","turn_id":"t1","seq":4,"ts_ms":1010}"#,
    r#"{"type":"response","content":"La suma de 10 y 5 es 15.","turn_id":"t1","seq":5,"ts_ms":1011}"#,
    r#"{"type":"complete","steps":5,"turn_id":"t1","seq":6,"ts_ms":1012}"#,
];

#[test]
fn a_turn_builds_its_timeline_and_answer() {
    let mut c = Conversation::default();
    let id = c.ask("Suma 10 y 5".into());
    feed(&mut c, &SUMA);
    let turn = c.turn(id).unwrap();
    assert_eq!(turn.status, TurnStatus::Done);
    assert_eq!(turn.answer, "La suma de 10 y 5 es 15.");
    assert_eq!(turn.event_count, Some(5));
    assert_eq!(turn.elapsed_ms(0), Some(12));
    let Step::Tool(call) = &turn.steps[2] else {
        panic!("{:?}", turn.steps)
    };
    assert_eq!(call.tool, "add");
    assert_eq!(call.args, r#"{"a":10,"b":5}"#);
    assert_eq!(call.result.as_deref(), Some("15"));
    assert!(!call.is_error);
    assert_eq!((call.called_ms, call.returned_ms), (1002, Some(1010)));
    assert!(!c.is_busy());
}

#[test]
fn replayed_events_are_applied_once() {
    let mut c = Conversation::default();
    let id = c.ask("Suma 10 y 5".into());
    feed(&mut c, &SUMA[..4]);
    // A resume replays from seq 3 on: 3 and 4 are already known.
    let applied = feed(&mut c, &SUMA[2..]);
    assert_eq!(applied[..2], [Applied::Nothing, Applied::Nothing]);
    let turn = c.turn(id).unwrap();
    assert_eq!(turn.steps.len(), 3, "{:?}", turn.steps);
    assert_eq!(turn.status, TurnStatus::Done);
    assert_eq!(c.last_seq, 6);
}

#[test]
fn a_streamed_piece_changes_its_turn_and_nothing_else() {
    let mut c = Conversation::default();
    for i in 0..100 {
        c.ask(format!("question {i}"));
    }
    let id = c.ask("q".into());
    // The first 100 are answered; the last one runs.
    let mut seq = 0;
    for i in 0..100 {
        for event in [
            r#""type":"start","message":"s""#,
            r#""type":"complete","steps":1"#,
        ] {
            seq += 1;
            c.apply(&frame(&format!(
                r#"{{{event},"turn_id":"t{i}","seq":{seq}}}"#
            )));
        }
    }
    let before: Vec<Turn> = c.turns()[..100].to_vec();
    let started = c.apply(&frame(
        r#"{"type":"start","message":"s","turn_id":"last","seq":1000}"#,
    ));
    assert!(matches!(started, Applied::Turn { reshaped: true, local_id, .. } if local_id == id));
    let piece = c.apply(&frame(
        r#"{"type":"response_delta","content":"Hel","turn_id":"last","seq":1001}"#,
    ));
    assert_eq!(
        piece,
        Applied::Turn {
            local_id: id,
            finished: false,
            reshaped: false
        },
        "a piece reshapes nothing: only its turn's views update"
    );
    assert_eq!(c.turns()[..100], before[..]);
    assert_eq!(c.turn(id).unwrap().answer, "Hel");
}

#[test]
fn streamed_text_before_a_tool_call_becomes_a_thought() {
    let mut c = Conversation::default();
    let id = c.ask("q".into());
    feed(
        &mut c,
        &[
            r#"{"type":"start","message":"s","turn_id":"t","ts_ms":1}"#,
            r#"{"type":"response_delta","content":"Let me ","turn_id":"t","ts_ms":2}"#,
            r#"{"type":"response_delta","content":"add.","turn_id":"t","ts_ms":3}"#,
            r#"{"type":"tool_call","tool":"add","args":{"a":1,"b":2},"turn_id":"t","ts_ms":4}"#,
            r#"{"type":"tool_result","tool":"add","result":"3","turn_id":"t","ts_ms":5}"#,
            r#"{"type":"response_delta","content":"It is ","turn_id":"t","ts_ms":6}"#,
            r#"{"type":"response_delta","content":"3.","turn_id":"t","ts_ms":7}"#,
        ],
    );
    let turn = c.turn(id).unwrap();
    assert_eq!(turn.answer, "It is 3.");
    assert!(matches!(&turn.steps[1], Step::Thought { text, .. } if text == "Let me add."));
    assert_eq!(turn.status, TurnStatus::Running);
}

#[test]
fn queued_questions_take_their_turns_in_order() {
    let mut c = Conversation::default();
    let first = c.ask("one".into());
    let second = c.ask("two".into());
    feed(
        &mut c,
        &[
            r#"{"type":"start","message":"s","turn_id":"a"}"#,
            r#"{"type":"start","message":"s","turn_id":"b"}"#,
            r#"{"type":"cancelled","turn_id":"b"}"#,
            r#"{"type":"error","message":"down","code":"toolbox_unavailable","turn_id":"a"}"#,
        ],
    );
    assert_eq!(c.turn(first).unwrap().status, TurnStatus::Failed);
    assert_eq!(
        c.turn(first).unwrap().error.as_ref().unwrap().code,
        Some(ErrorCode::ToolboxUnavailable)
    );
    assert_eq!(c.turn(second).unwrap().status, TurnStatus::Stopped);
}

#[test]
fn a_new_session_interrupts_open_turns_and_restarts_numbering() {
    let mut c = Conversation::default();
    c.switch_session("s1".into());
    let id = c.ask("q".into());
    feed(&mut c, &SUMA[..3]);
    c.switch_session("s2".into());
    assert_eq!(c.turn(id).unwrap().status, TurnStatus::Interrupted);
    assert_eq!(c.last_seq, 0);
}

#[test]
fn a_refused_message_fails_its_turn() {
    let mut c = Conversation::default();
    let first = c.ask("one".into());
    let second = c.ask("two".into());
    let refused = c.refuse_latest(TurnError {
        code: Some(ErrorCode::Busy),
        message: "busy".into(),
    });
    assert_eq!(refused, Some(second));
    assert_eq!(c.turn(second).unwrap().status, TurnStatus::Failed);
    assert_eq!(c.turn(first).unwrap().status, TurnStatus::Waiting);
}

/// The second answer to "Suma 10 y 5", replacing turn `t1`.
const REGENERATED: [&str; 3] = [
    r#"{"type":"start","message":"Procesando","replaces":"t1","turn_id":"t2","seq":7,"ts_ms":2000}"#,
    r#"{"type":"response","content":"15.","turn_id":"t2","seq":8,"ts_ms":2001}"#,
    r#"{"type":"complete","steps":2,"turn_id":"t2","seq":9,"ts_ms":2002}"#,
];

#[test]
fn regenerate_replaces_the_last_turn() {
    let mut c = Conversation::default();
    c.ask("Suma 10 y 5".into());
    assert_eq!(
        c.revisable(),
        None,
        "nothing to regenerate before an answer"
    );
    feed(&mut c, &SUMA);
    let new = c.regenerate().expect("the last turn ended");
    assert_eq!(c.turn(new).unwrap().question, "Suma 10 y 5");
    assert_eq!(c.regenerate(), None, "one revision at a time");
    let applied = feed(&mut c, &REGENERATED);
    assert!(matches!(applied[0], Applied::Turn { reshaped: true, .. }));
    assert_eq!(c.len(), 1, "{:?}", c.turns());
    let turn = &c.turns()[0];
    assert_eq!(turn.local_id, new);
    assert_eq!(turn.turn_id.as_deref(), Some("t2"));
    assert_eq!(turn.answer, "15.");
    assert_eq!(turn.question, "Suma 10 y 5");
}

#[test]
fn edit_replaces_the_question_and_its_answer() {
    let mut c = Conversation::default();
    c.ask("Suma 10 y 5".into());
    feed(&mut c, &SUMA);
    let new = c.edit("Suma 10 y 6".into()).expect("the last turn ended");
    feed(&mut c, &REGENERATED);
    assert_eq!(c.len(), 1);
    let turn = c.turn(new).unwrap();
    assert_eq!(turn.question, "Suma 10 y 6");
    assert_eq!(turn.status, TurnStatus::Done);
}

#[test]
fn a_replacement_seen_in_a_replay_rebuilds_the_same_transcript() {
    // A page that knows nothing (another tab, or a transcript loaded from the
    // server) replays every event: the replaced turn disappears there too, and the
    // new turn keeps the question it answers again.
    let mut c = Conversation::default();
    feed(&mut c, &SUMA);
    feed(&mut c, &REGENERATED);
    assert_eq!(c.len(), 1);
    assert_eq!(c.turns()[0].answer, "15.");
    assert_eq!(c.turns()[0].turn_id.as_deref(), Some("t2"));
}

#[test]
fn a_revision_refused_by_the_server_keeps_the_old_turn() {
    let mut c = Conversation::default();
    let old = c.ask("Suma 10 y 5".into());
    feed(&mut c, &SUMA);
    let new = c.regenerate().unwrap();
    c.refuse_latest(TurnError {
        code: Some(ErrorCode::Busy),
        message: "busy".into(),
    });
    assert_eq!(c.turn(old).unwrap().status, TurnStatus::Done);
    assert_eq!(c.turn(new).unwrap().status, TurnStatus::Failed);
    assert_eq!(c.revisable(), None, "the failed one has no server turn");
}

#[test]
fn usage_of_the_turn_and_of_the_conversation() {
    let mut c = Conversation::default();
    let id = c.ask("q".into());
    feed(
        &mut c,
        &[
            r#"{"type":"start","message":"s","turn_id":"t","seq":1}"#,
            r#"{"type":"complete","steps":1,"usage":{"input_tokens":1200,"output_tokens":34},"total_usage":{"input_tokens":5000,"output_tokens":90,"cost_usd":0.0123},"turn_id":"t","seq":2}"#,
        ],
    );
    assert_eq!(
        c.turn(id).unwrap().usage,
        Some(Usage {
            input_tokens: 1200,
            output_tokens: 34,
            cost_usd: None
        })
    );
    assert_eq!(c.usage.unwrap().cost_usd, Some(0.0123));
    assert_eq!(c.usage.unwrap().input_tokens, 5000);
}

#[test]
fn storage_round_trip() {
    let mut c = Conversation::default();
    c.ask("Suma 10 y 5".into());
    feed(&mut c, &SUMA);
    let saved = serde_json::to_string(&c).unwrap();
    let restored: Conversation = Conversation::restore(&saved).unwrap();
    assert_eq!(restored, c);
    let mut restored = restored;
    assert_eq!(
        restored.ask("next".into()),
        2,
        "ids continue after a reload"
    );
}

#[test]
fn transcripts_saved_by_the_previous_version_still_load() {
    let saved = r#"{"turns":[{"local_id":1,"turn_id":"t1","question":"q","status":"Done","steps":[],"answer":"a","error":null,"started_ms":1,"ended_ms":2,"event_count":3}],"session_id":"s","last_seq":6,"next_local_id":1}"#;
    let restored: Conversation = Conversation::restore(saved).unwrap();
    assert_eq!(restored.turns()[0].answer, "a");
    assert_eq!(restored.turns()[0].usage, None);
    assert_eq!(restored.last_seq, 6);
}

#[test]
fn an_opened_conversation_replays_with_its_questions() {
    let mut c = Conversation::opened(
        "s".into(),
        vec![
            ("t2".into(), "Suma 10 y 6".into()),
            ("t1".into(), "Suma 10 y 5".into()),
        ],
    );
    assert_eq!(c.session_id.as_deref(), Some("s"));
    assert_eq!(c.last_seq, 0);
    feed(&mut c, &SUMA);
    feed(&mut c, &REGENERATED);
    assert_eq!(c.len(), 1, "the replaced turn is gone");
    assert_eq!(c.turns()[0].question, "Suma 10 y 6");
    assert_eq!(c.turns()[0].answer, "15.");
    assert!(!c.is_busy());
}

#[test]
fn every_stored_shape_reads_back() {
    // A transcript with every kind of step, approval state, attachment and ending.
    let mut c = Conversation::default();
    c.switch_session("s".into());
    c.ask("one".into());
    c.ask("two".into());
    c.ask("three".into());
    feed(
        &mut c,
        &[
            r#"{"type":"start","message":"s","turn_id":"a","seq":1,"ts_ms":1}"#,
            r#"{"type":"step","node":"llm","message":"m","turn_id":"a","seq":2,"ts_ms":2}"#,
            r#"{"type":"response_delta","content":"thinking","turn_id":"a","seq":3,"ts_ms":3}"#,
            r#"{"type":"tool_call","tool":"rm","args":{"p":"/","n":1.5},"call_id":"c1","server":"fs","turn_id":"a","seq":4,"ts_ms":4}"#,
            r#"{"type":"approval_required","call_id":"c1","tool":"rm","args":{"p":"/"},"server":"fs","turn_id":"a","seq":5}"#,
            r#"{"type":"approval_resolved","call_id":"c1","approved":false,"reason":"no way","turn_id":"a","seq":6}"#,
            r#"{"type":"tool_result","tool":"rm","result":"declined","is_error":true,"call_id":"c1","turn_id":"a","seq":7}"#,
            r#"{"type":"tool_call","tool":"pic","args":{},"call_id":"c2","turn_id":"a","seq":8}"#,
            r#"{"type":"approval_required","call_id":"c2","tool":"pic","args":{},"server":"x","turn_id":"a","seq":9}"#,
            r#"{"type":"approval_resolved","call_id":"c2","approved":true,"turn_id":"a","seq":10}"#,
            r#"{"type":"tool_result","tool":"pic","result":"","call_id":"c2","content":[{"type":"image","mime_type":"image/png","data":"AAAA"},{"type":"resource_link","uri":"https://x"}],"turn_id":"a","seq":11}"#,
            r#"{"type":"tool_call","tool":"slow","args":{},"call_id":"c3","turn_id":"a","seq":12}"#,
            r#"{"type":"approval_required","call_id":"c3","tool":"slow","args":{},"server":"x","turn_id":"a","seq":13}"#,
            r#"{"type":"tool_progress","call_id":"c3","tool":"slow","progress":2.5,"turn_id":"a","seq":14}"#,
            r#"{"type":"response","content":"done","turn_id":"a","seq":15}"#,
            r#"{"type":"complete","steps":14,"usage":{"input_tokens":5,"output_tokens":6,"cost_usd":0.25},"total_usage":{"input_tokens":5,"output_tokens":6},"turn_id":"a","seq":16,"ts_ms":99}"#,
            r#"{"type":"start","message":"s","turn_id":"b","seq":17}"#,
            r#"{"type":"error","message":"down","code":"llm_unavailable","turn_id":"b","seq":18}"#,
            r#"{"type":"start","message":"s","turn_id":"c","seq":19}"#,
        ],
    );
    c.switch_session("s2".into()); // the running turn is interrupted
    c.ask("four".into());
    c.refuse_latest(TurnError {
        code: None,
        message: "not connected".into(),
    });
    let saved = serde_json::to_string(&c).unwrap();
    let restored: Conversation = Conversation::restore(&saved).expect("reads back");
    assert_eq!(restored, c);
    assert!(Conversation::<Turn>::restore("{\"turns\":5}").is_none());
    assert!(Conversation::<Turn>::restore("not json").is_none());
}
