//! Size caps and upstream faults, end to end: an answer cut at `MAX_ANSWER_CHARS` with
//! its model call stopped, Server-Sent Events cut to `MAX_SSE_EVENT_BYTES`, history
//! trimmed to `MAX_HISTORY_BYTES`, a `Retry-After: 1e20` that once panicked, and
//! planner input too deep to read.

use protocol::{ErrorCode, ServerEvent};
use serde_json::{Value, json};
use server::llm::{LlmSettings, Provider};

use crate::{
    fake_bedrock::{self, FakeBedrock},
    fake_openai::{FakeOpenAi, Reply, content, text_answer},
    helpers::{TestApp, assert_error, kinds, spawn_app, spawn_app_with},
};

async fn openai_app(
    fake: &FakeOpenAi,
    configure: impl FnOnce(&mut server::Settings) + Send + 'static,
) -> TestApp {
    let url = fake.base_url.clone();
    spawn_app_with(move |settings| {
        let llm: &mut LlmSettings = &mut settings.llm;
        llm.provider = Some(Provider::Openai);
        llm.openai_base_url = Some(url);
        llm.openai_model = Some("fake-model".into());
        configure(settings);
    })
    .await
}

#[tokio::test]
async fn a_streamed_answer_past_the_cap_is_cut_with_a_note_and_its_call_stopped() {
    // Forty pieces of a hundred characters, then a stream that never ends: only a
    // stopped call lets this turn finish.
    let pieces: Vec<String> = (0..40).map(|n| format!("{:0>100}", n)).collect();
    let fake = FakeOpenAi::start(vec![Reply::SseCut(
        pieces.iter().map(|p| content(p)).collect(),
    )])
    .await;
    let app = openai_app(&fake, |s| s.max_answer_chars = 250).await;
    let mut client = app.connect().await;
    let events = client.turn("Hello there").await;
    let names = kinds(&events);
    assert_eq!(names.first(), Some(&"start"));
    assert_eq!(
        &names[names.len() - 2..],
        ["response", "complete"],
        "{names:?}"
    );
    let deltas: String = events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::ResponseDelta { content } => Some(content.as_str()),
            _ => None,
        })
        .collect();
    let ServerEvent::Response { content: answer } = &events[events.len() - 2] else {
        unreachable!()
    };
    assert_eq!(&deltas, answer, "the deltas add up to the answer");
    let streamed: String = pieces.concat();
    let (kept, note) = answer.split_at(250);
    assert_eq!(kept, &streamed[..250]);
    assert!(note.contains("cut") && note.contains("250"), "{note}");
}

#[tokio::test]
async fn a_whole_answer_past_the_cap_is_cut_too() {
    let long = "ab".repeat(400);
    let fake = FakeOpenAi::start(vec![text_answer(&[long.as_str()])]).await;
    let app = openai_app(&fake, |s| s.max_answer_chars = 100).await;
    let mut client = app.connect().await;
    let events = client.turn("Hola").await;
    let Some(ServerEvent::Response { content }) = events.iter().find(|e| e.kind() == "response")
    else {
        panic!("{events:?}");
    };
    assert!(content.starts_with(&long[..100]));
    assert!(content.contains("recortada"), "Spanish note: {content}");
    assert!(content.chars().count() < 200);
}

/// (event name, raw data line) of an SSE body.
fn sse_lines(body: &str) -> Vec<(String, String)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(rest) = line.strip_prefix("event:") {
                    name = Some(rest.trim().to_owned());
                } else if let Some(rest) = line.strip_prefix("data:") {
                    data = Some(rest.trim_start().to_owned());
                }
            }
            Some((name?, data?))
        })
        .collect()
}

#[tokio::test]
async fn server_sent_events_are_cut_to_their_cap() {
    let long = "é".repeat(3000);
    let fake = FakeOpenAi::start(vec![text_answer(&[long.as_str()])]).await;
    let app = openai_app(&fake, |s| s.max_sse_event_bytes = 1024).await;
    let body = reqwest::Client::new()
        .post(app.url("/api/chat/stream"))
        .json(&json!({"message": "Hola"}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse_lines(&body);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["start", "step", "response_delta", "response", "complete"]
    );
    for (name, data) in &events {
        assert!(data.len() <= 1024, "{name}: {} bytes", data.len());
        let parsed: Value = serde_json::from_str(data).unwrap();
        assert_eq!(parsed["type"], name.as_str());
    }
    let response: Value = serde_json::from_str(&events[3].1).unwrap();
    let text = response["content"].as_str().unwrap();
    assert!(text.starts_with("ééé") && text.contains("[cut: "), "{text}");
}

#[tokio::test]
async fn history_past_its_budget_leaves_out_the_oldest_turns() {
    let fake = FakeOpenAi::start(vec![
        text_answer(&["first answer"]),
        text_answer(&["second answer"]),
        text_answer(&["third answer"]),
    ])
    .await;
    // "Hola" + "first answer" = 16 bytes; with "Otra" + "second answer" 33.
    let app = openai_app(&fake, |s| s.max_history_bytes = 20).await;
    let mut client = app.connect().await;
    for message in ["Hola", "Otra", "Y otra"] {
        let events = client.turn(message).await;
        assert_eq!(events.last().unwrap().kind(), "complete");
    }
    let sent: Vec<Vec<String>> = fake
        .requests()
        .iter()
        .map(|r| {
            r.body["messages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["role"] != "system")
                .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(sent[0], ["Hola"]);
    assert_eq!(sent[1], ["Hola", "first answer", "Otra"]);
    assert_eq!(
        sent[2],
        ["Otra", "second answer", "Y otra"],
        "the oldest turn left out"
    );
}

#[tokio::test]
async fn a_retry_after_too_large_for_a_duration_fails_the_call_without_a_panic() {
    let fake = FakeOpenAi::start(vec![Reply::Status {
        status: 429,
        body: json!({ "error": { "message": "slow down" } }),
        retry_after: Some("1e20"),
    }])
    .await;
    let app = openai_app(&fake, |s| s.llm.max_attempts = 3).await;
    let mut client = app.connect().await;
    let events = client.turn("Hola").await;
    assert_eq!(kinds(&events), ["start", "step", "error"]);
    assert_error(&events[2], ErrorCode::LlmUnavailable, "");
    assert_eq!(fake.requests().len(), 1, "no retry waits forever");
    assert_eq!(
        app.metric("toolstream_turns_total{outcome=\"internal\"}")
            .await,
        0.0
    );
    assert_eq!(
        reqwest::get(app.url("/healthz")).await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn bedrocks_largest_retry_after_is_bounded_and_the_retry_answers() {
    // u64::MAX milliseconds: the AWS SDK reads it as a `Duration` without overflow and
    // the server caps the wait at 5 s, so the retry happens and the turn completes.
    let fake = FakeBedrock::start(vec![
        fake_bedrock::Reply::Throttled {
            retry_after: "18446744073709551615",
        },
        fake_bedrock::text_answer(&["Hola."]),
    ])
    .await;
    let url = fake.url.clone();
    let app = spawn_app_with(move |settings| {
        let llm = &mut settings.llm;
        llm.provider = Some(Provider::Bedrock);
        llm.bedrock_model_id = Some("amazon.nova-lite-v1:0".into());
        llm.aws_region = Some("us-east-1".into());
        llm.bedrock_endpoint_url = Some(url);
        llm.max_attempts = 2;
        llm.aws_credentials = Some(aws_sdk_bedrockruntime::config::Credentials::new(
            "AKIDTOOLSTREAMTEST",
            "test-secret",
            None,
            None,
            "tests",
        ));
    })
    .await;
    let mut client = app.connect().await;
    let started = std::time::Instant::now();
    let events = client.turn("Hola").await;
    assert_eq!(events.last().unwrap().kind(), "complete", "{events:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(9),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(fake.requests().len(), 2, "retried once");
}

#[tokio::test]
async fn planner_input_nested_too_deep_gets_an_answer_not_a_crash() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    let deep = format!("{}1{}", "(".repeat(3000), ")".repeat(3000));
    let events = client.turn(&deep[..3999]).await;
    assert_eq!(kinds(&events), ["start", "step", "response", "complete"]);
    let events = client
        .turn(&format!("{}1{}", "(".repeat(40), ")".repeat(40)))
        .await;
    let ServerEvent::Response { content } = &events[2] else {
        panic!("{events:?}");
    };
    assert!(content.contains("32"), "{content}");
    let events = client.turn("Suma 1 y 2").await;
    assert_eq!(events.last(), Some(&ServerEvent::complete(5)));
}
