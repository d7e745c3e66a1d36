//! What the README promises and no other test checked: the turn timeout, every metric
//! it lists, and events that really stream while a turn is still running.

use std::sync::Arc;

use async_trait::async_trait;
use protocol::{ErrorCode, ServerEvent};
use server::llm::{Llm, LlmError, LlmInfo, LlmReply, LlmRequest, TextSink, planner::LocalPlanner};
use tokio::sync::Semaphore;

use crate::{
    fixtures::{Counter, StagedLlm},
    helpers::{assert_error, kinds, refused_address, spawn_app_with, spawn_app_with_llm},
};

#[tokio::test]
async fn a_turn_longer_than_its_timeout_ends_with_timeout() {
    let llm = Arc::new(StagedLlm::default());
    let app = spawn_app_with_llm(llm.clone(), |s| {
        s.turn_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let mut client = app.connect().await;
    let events = client.turn("please hang").await;
    assert_eq!(kinds(&events), ["start", "step", "error"]);
    // The turn's own limit (the LLM's is a minute), named in the message.
    assert_error(&events[2], ErrorCode::Timeout, "0.3 s");
    assert_eq!(llm.dropped.get(), 1, "the model call in flight was dropped");
    assert_eq!(app.metric("toolstream_turns_running").await, 0.0);
    let events = client.turn("Suma 1 y 2").await;
    assert_eq!(events.last(), Some(&ServerEvent::complete(5)));
}

/// The value of the sample `series` (name and labels exactly) in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test]
async fn every_metric_the_readme_lists_is_exported_and_counts() {
    let app = spawn_app_with(|_| {}).await;
    let mut client = app.connect().await;
    client.turn("Suma 1 y 2").await;
    client.turn("Divide 1 entre 0").await;
    let response = reqwest::get(app.url("/metrics")).await.unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.trim_end().ends_with("# EOF"),
        "OpenMetrics ends with # EOF"
    );
    let expect = [
        ("toolstream_ws_connections", 1.0),
        ("toolstream_sessions", 1.0),
        ("toolstream_turns_running", 0.0),
        ("toolstream_turns_total{outcome=\"complete\"}", 2.0),
        ("toolstream_turn_duration_seconds_count", 2.0),
        (
            "toolstream_tool_call_duration_seconds_count{tool=\"add\",outcome=\"ok\"}",
            1.0,
        ),
        (
            "toolstream_tool_call_duration_seconds_count{tool=\"divide\",outcome=\"tool_error\"}",
            1.0,
        ),
        // One call to choose the tool and one to answer, per turn.
        (
            "toolstream_llm_call_duration_seconds_count{provider=\"local\"}",
            4.0,
        ),
    ];
    for (series, value) in expect {
        assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
    }
    let turn_seconds = sample(&text, "toolstream_turn_duration_seconds_sum").unwrap();
    assert!(turn_seconds > 0.0 && turn_seconds < 10.0);

    // The toolbox unreachable: a counted MCP error; a refused origin: a rejection.
    let (_reserved, closed) = refused_address();
    let down = format!("http://{closed}/mcp");
    let app = spawn_app_with(|s| s.mcp_server_url = Some(down)).await;
    let mut client = app.connect().await;
    let events = client.turn("Suma 1 y 2").await;
    assert_error(events.last().unwrap(), ErrorCode::ToolboxUnavailable, "");
    assert_eq!(
        app.metric("toolstream_mcp_errors_total{reason=\"unavailable\"}")
            .await,
        1.0
    );
    assert_eq!(
        app.metric("toolstream_turns_total{outcome=\"error\"}")
            .await,
        1.0
    );
}

/// The local planner behind a gate: each model call waits for a permit the test
/// hands out, so the test knows the turn cannot have ended yet.
struct GatedLlm {
    planner: LocalPlanner,
    gate: Semaphore,
    waiting: Counter,
}

#[async_trait]
impl Llm for GatedLlm {
    fn info(&self) -> &LlmInfo {
        self.planner.info()
    }

    async fn complete(
        &self,
        request: LlmRequest<'_>,
        stream: &mut dyn TextSink,
    ) -> Result<LlmReply, LlmError> {
        self.waiting.bump();
        let permit = self.gate.acquire().await.map_err(|_| LlmError::Timeout)?;
        permit.forget();
        self.planner.complete(request, stream).await
    }
}

#[tokio::test]
async fn events_arrive_while_the_turn_is_still_running() {
    let llm = Arc::new(GatedLlm {
        planner: LocalPlanner::default(),
        gate: Semaphore::new(0),
        waiting: Counter::default(),
    });
    let app = spawn_app_with_llm(llm.clone(), |_| {}).await;
    let mut client = app.connect().await;
    client.say("Suma 10 y 5").await;
    // The first model call is held: these two were sent before it.
    assert_eq!(client.next_event().await.kind(), "start");
    assert_eq!(client.next_event().await.kind(), "step");
    llm.gate.add_permits(1);
    // The tool ran and the second model call is held: the tool's events came first.
    assert_eq!(client.next_event().await.kind(), "tool_call");
    let result = client.next_event().await;
    assert!(
        matches!(&result, ServerEvent::ToolResult { result, .. } if result == "15"),
        "{result:?}"
    );
    llm.gate.add_permits(1);
    assert_eq!(
        kinds(&client.collect_turn().await),
        ["response", "complete"]
    );
    assert_eq!(llm.waiting.get(), 2);
}
