//! Token usage, end to end: providers report it (a fake OpenAI-compatible server with
//! `stream_options.include_usage`, a whole JSON completion, a fake Bedrock's
//! `metadata` event and Converse `usage`), `complete` carries the turn's and the
//! conversation's, the price table adds the cost, the conversation keeps it (REST),
//! and Prometheus counts tokens and dollars by provider and model.

use protocol::{ErrorCode, ServerEvent, Usage};
use serde_json::{Value, json};

use crate::{
    bedrock::{self, bedrock_app},
    fake_bedrock::{FakeBedrock, converse, text_answer as bedrock_text, tool_use},
    fake_openai::{FakeOpenAi, Reply, error_status, text_answer, tool_call, with_usage},
    helpers::{TestApp, WsClient, assert_error},
    openai::{MODEL, openai_app},
};

/// `(input × $3 + output × $15) / 1M`, the price table of these tests.
fn cost(input: u64, output: u64) -> f64 {
    (input as f64 * 3.0 + output as f64 * 15.0) / 1e6
}

fn tokens(input: u64, output: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cost_usd: None,
    }
}

fn priced(input: u64, output: u64) -> Usage {
    Usage {
        cost_usd: Some(cost(input, output)),
        ..tokens(input, output)
    }
}

/// Equal token counts, and costs equal to a billionth of a cent.
fn assert_usage(actual: Option<Usage>, expected: Usage) {
    let actual = actual.unwrap_or_else(|| panic!("no usage; expected {expected:?}"));
    assert_eq!(
        (actual.input_tokens, actual.output_tokens),
        (expected.input_tokens, expected.output_tokens)
    );
    match (actual.cost_usd, expected.cost_usd) {
        (Some(a), Some(e)) => assert!((a - e).abs() < 1e-11, "cost {a} ≠ {e}"),
        (a, e) => assert_eq!(a, e),
    }
}

fn usage_json(value: &Value) -> Option<Usage> {
    serde_json::from_value(value.clone()).ok()
}

/// `complete`'s `usage` and `total_usage`.
fn complete_usage(events: &[ServerEvent]) -> (Option<Usage>, Option<Usage>) {
    match events.last() {
        Some(ServerEvent::Complete {
            usage, total_usage, ..
        }) => (*usage, *total_usage),
        other => panic!("the turn did not complete: {other:?} in {events:#?}"),
    }
}

/// One sample from `/metrics`, labels exactly as given (absent: `None`).
async fn sample(app: &TestApp, series: &str) -> Option<f64> {
    let text = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// A connected client and its session (conversation) id.
async fn connect(app: &TestApp) -> (WsClient, String) {
    let mut client = app.connect_raw().await;
    let ServerEvent::Ready { session_id, .. } = client.next_event().await else {
        panic!("expected ready first");
    };
    (client, session_id)
}

async fn get_json(app: &TestApp, cookie: &str, path: &str) -> Value {
    let response = reqwest::Client::new()
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

#[tokio::test]
async fn openai_usage_is_summed_per_turn_priced_kept_and_counted() {
    let fake = FakeOpenAi::start(vec![
        with_usage(
            tool_call("call_1", "add", &[r#"{"a": 10, "b": 5}"#]),
            1234,
            56,
        ),
        with_usage(text_answer(&["La suma de 10 y 5 ", "es 15."]), 1234, 56),
        with_usage(text_answer(&["¡De nada!"]), 1234, 56),
    ])
    .await;
    let app = openai_app(&fake, |llm| {
        llm.price_input_per_mtok = Some(3.0);
        llm.price_output_per_mtok = Some(15.0);
    })
    .await;
    let (mut client, session_id) = connect(&app).await;

    // Two model calls in the first turn: their usage is summed, then priced.
    let first = client.turn("Suma 10 y 5").await;
    let (usage, total) = complete_usage(&first);
    assert_usage(usage, priced(2468, 112));
    assert_usage(total, priced(2468, 112));
    let second = client.turn("Gracias").await;
    let (usage, total) = complete_usage(&second);
    assert_usage(usage, priced(1234, 56));
    assert_usage(total, priced(3702, 168));

    // Every request asked for the usage chunk.
    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(
            request.body["stream_options"],
            json!({ "include_usage": true })
        );
    }

    // The conversation keeps each turn's usage and the totals (REST).
    let cookie = client.owner().to_owned();
    let detail = get_json(&app, &cookie, &format!("/api/conversations/{session_id}")).await;
    assert_usage(
        usage_json(&detail["conversation"]["usage"]),
        priced(3702, 168),
    );
    let turns = detail["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 2);
    assert_usage(usage_json(&turns[0]["usage"]), priced(2468, 112));
    assert_usage(usage_json(&turns[1]["usage"]), priced(1234, 56));
    let list = get_json(&app, &cookie, "/api/conversations").await;
    let item = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == session_id.as_str())
        .expect("the conversation in the list");
    assert_usage(usage_json(&item["usage"]), priced(3702, 168));

    // A reconnecting client sees the totals in `ready`.
    let mut again = app.connect_as(&cookie).await;
    again.resume(&session_id, 0).await;
    let ServerEvent::Ready { conversation, .. } = again.next_event().await else {
        panic!("expected ready after resume");
    };
    assert_usage(conversation.and_then(|c| c.usage), priced(3702, 168));

    // Prometheus: tokens by provider, model and kind; dollars by provider and model.
    let labels = format!(r#"provider="openai",model="{MODEL}""#);
    let input = sample(
        &app,
        &format!(r#"toolstream_llm_tokens_total{{{labels},kind="input"}}"#),
    )
    .await;
    let output = sample(
        &app,
        &format!(r#"toolstream_llm_tokens_total{{{labels},kind="output"}}"#),
    )
    .await;
    assert_eq!((input, output), (Some(3702.0), Some(168.0)));
    let dollars = sample(&app, &format!("toolstream_llm_cost_usd_total{{{labels}}}")).await;
    assert!(
        (dollars.unwrap() - cost(3702, 168)).abs() < 1e-9,
        "{dollars:?}"
    );
}

#[tokio::test]
async fn a_server_that_reports_no_usage_leaves_it_out() {
    let fake = FakeOpenAi::start(vec![text_answer(&["Hola."])]).await;
    let app = openai_app(&fake, |llm| {
        llm.price_input_per_mtok = Some(3.0);
        llm.price_output_per_mtok = Some(15.0);
    })
    .await;
    let (mut client, session_id) = connect(&app).await;
    let events = client.turn("Hola").await;
    assert_eq!(events.last(), Some(&ServerEvent::complete(4)));
    let detail = get_json(
        &app,
        client.owner(),
        &format!("/api/conversations/{session_id}"),
    )
    .await;
    assert!(detail["conversation"].get("usage").is_none(), "{detail}");
    assert!(detail["turns"][0].get("usage").is_none(), "{detail}");
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains("toolstream_llm_tokens_total{"),
        "{metrics}"
    );
}

#[tokio::test]
async fn servers_that_refuse_stream_options_are_asked_without_them() {
    let fake = FakeOpenAi::start(vec![
        error_status(
            400,
            "Unrecognized request argument supplied: stream_options",
        ),
        text_answer(&["Hola."]),
        text_answer(&["Otra vez hola."]),
    ])
    .await;
    let app = openai_app(&fake, |_| {}).await;
    let mut client = app.connect().await;
    let events = client.turn("Hola").await;
    assert_eq!(events.last(), Some(&ServerEvent::complete(4)));
    let events = client.turn("Hola otra vez").await;
    assert_eq!(events.last().map(ServerEvent::kind), Some("complete"));
    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests[0].body.get("stream_options").is_some());
    // Asked again at once without it, and never with it again.
    assert!(requests[1].body.get("stream_options").is_none());
    assert!(requests[2].body.get("stream_options").is_none());
    assert_eq!(requests[1].body["messages"], requests[0].body["messages"]);
}

#[tokio::test]
async fn a_whole_json_completion_gives_its_answer_and_usage() {
    let fake = FakeOpenAi::start(vec![Reply::Json(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": MODEL,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": "La suma es 15." },
            "finish_reason": "stop"
        }],
        "usage": { "prompt_tokens": 1234, "completion_tokens": 56, "total_tokens": 1290 }
    }))])
    .await;
    let app = openai_app(&fake, |_| {}).await;
    let mut client = app.connect().await;
    let events = client.turn("Suma 10 y 5").await;
    assert_eq!(
        crate::helpers::kinds(&events),
        ["start", "step", "response_delta", "response", "complete"]
    );
    assert_eq!(
        events[3],
        ServerEvent::Response {
            content: "La suma es 15.".into()
        }
    );
    let (usage, total) = complete_usage(&events);
    assert_eq!(
        (usage, total),
        (Some(tokens(1234, 56)), Some(tokens(1234, 56)))
    );
}

#[tokio::test]
async fn a_failed_turn_still_counts_what_it_spent() {
    let fake = FakeOpenAi::start(vec![
        with_usage(
            tool_call("call_1", "add", &[r#"{"a": 10, "b": 5}"#]),
            1234,
            56,
        ),
        error_status(400, "the context is too long"),
        with_usage(text_answer(&["Hola."]), 100, 4),
    ])
    .await;
    let app = openai_app(&fake, |_| {}).await;
    let (mut client, session_id) = connect(&app).await;
    let failed = client.turn("Suma 10 y 5").await;
    assert_error(failed.last().unwrap(), ErrorCode::LlmUnavailable, "");
    let next = client.turn("Hola").await;
    let (usage, total) = complete_usage(&next);
    assert_eq!(usage, Some(tokens(100, 4)));
    // The conversation's total includes the failed turn's first model call.
    assert_eq!(total, Some(tokens(1334, 60)));
    let detail = get_json(
        &app,
        client.owner(),
        &format!("/api/conversations/{session_id}"),
    )
    .await;
    assert_eq!(
        usage_json(&detail["conversation"]["usage"]),
        Some(tokens(1334, 60))
    );
    let input = sample(
        &app,
        &format!(
            r#"toolstream_llm_tokens_total{{provider="openai",model="{MODEL}",kind="input"}}"#
        ),
    )
    .await;
    assert_eq!(input, Some(1334.0));
}

#[tokio::test]
async fn bedrock_usage_comes_from_the_stream_metadata_and_from_converse() {
    // ConverseStream: each answer ends with a `metadata` event (120 in, 20 out).
    let fake = FakeBedrock::start(vec![
        tool_use("t1", "add", &[r#"{"a": 10, "b": 5}"#]),
        bedrock_text(&["15"]),
    ])
    .await;
    let app = bedrock_app(&fake, |llm| {
        llm.price_input_per_mtok = Some(3.0);
        llm.price_output_per_mtok = Some(15.0);
    })
    .await;
    let mut client = app.connect().await;
    let events = client.turn("Suma 10 y 5").await;
    let (usage, total) = complete_usage(&events);
    assert_usage(usage, priced(240, 40));
    assert_usage(total, priced(240, 40));
    let labels = format!(r#"provider="bedrock",model="{}""#, bedrock::MODEL);
    let output = sample(
        &app,
        &format!(r#"toolstream_llm_tokens_total{{{labels},kind="output"}}"#),
    )
    .await;
    assert_eq!(output, Some(40.0));

    // Converse (no streaming): the response's `usage`.
    let fake = FakeBedrock::start(vec![converse(json!([{ "text": "Hola." }]), "end_turn")]).await;
    let app = bedrock_app(&fake, |llm| llm.bedrock_streaming = false).await;
    let mut client = app.connect().await;
    let events = client.turn("Hola").await;
    assert_eq!(
        complete_usage(&events),
        (Some(tokens(120, 20)), Some(tokens(120, 20)))
    );
    assert_eq!(fake.requests()[0].operation, "converse");
}
