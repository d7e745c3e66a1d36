//! Bedrock as the agent's model: the real server, selected and configured through its
//! settings (`LLM_PROVIDER=bedrock`, `BEDROCK_ENDPOINT_URL`, …), the real AWS SDK
//! with static test credentials, and a fake Bedrock on loopback. Each scenario
//! asserts the exact WebSocket events and what the SDK sent.

use protocol::{ErrorCode, Node, ServerEvent};
use serde_json::{Value, json};
use server::{
    Application, Settings,
    llm::{LlmSettings, Provider},
};

use crate::{
    fake_bedrock::{
        FakeBedrock, Recorded, Reply, block_stop, converse, message_start, message_stop,
        service_error, text_answer, text_delta, tool_input, tool_start, tool_use,
    },
    helpers::{TestApp, args_json, assert_error, kinds, spawn_app_with},
};

pub const MODEL: &str = "us.anthropic.claude-3-5-haiku-20241022-v1:0";

/// The server with Bedrock pointed at `fake`, adjusted by `configure`.
pub async fn bedrock_app(fake: &FakeBedrock, configure: impl FnOnce(&mut LlmSettings)) -> TestApp {
    let url = fake.url.clone();
    spawn_app_with(move |settings| {
        let llm = &mut settings.llm;
        llm.provider = Some(Provider::Bedrock);
        llm.bedrock_model_id = Some(MODEL.into());
        llm.aws_region = Some("us-east-1".into());
        llm.bedrock_endpoint_url = Some(url);
        // Static credentials: the standard chain would look for real ones.
        llm.aws_credentials = Some(aws_sdk_bedrockruntime::config::Credentials::new(
            "AKIDTOOLSTREAMTEST",
            "test-secret",
            None,
            None,
            "tests",
        ));
        configure(llm);
    })
    .await
}

/// The `complete` of a conversation's first turn after `calls` model calls, each
/// reporting the fake's usage (120 input and 20 output tokens).
fn first_complete(steps: u32, calls: u64) -> ServerEvent {
    let usage = protocol::Usage {
        input_tokens: 120 * calls,
        output_tokens: 20 * calls,
        cost_usd: None,
    };
    ServerEvent::Complete {
        steps,
        usage: Some(usage),
        total_usage: Some(usage),
    }
}

fn deltas(events: &[ServerEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::ResponseDelta { content } => Some(content.as_str()),
            _ => None,
        })
        .collect()
}

fn messages(request: &Recorded) -> &Vec<Value> {
    request.body["messages"].as_array().expect("messages")
}

fn roles(request: &Recorded) -> Vec<&str> {
    messages(request)
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect()
}

fn tool_names(request: &Recorded) -> Vec<&str> {
    request.body["toolConfig"]["tools"]
        .as_array()
        .expect("toolConfig.tools")
        .iter()
        .map(|t| t["toolSpec"]["name"].as_str().unwrap())
        .collect()
}

fn assert_step_consults_bedrock(event: &ServerEvent) {
    match event {
        ServerEvent::Step {
            node: Node::Llm,
            message,
        } => assert_eq!(message, &format!("Consultando a Bedrock ({MODEL})...")),
        other => panic!("expected the llm step, got {other:?}"),
    }
}

#[tokio::test]
async fn suma_10_y_5_streams_start_step_tool_call_tool_result_deltas_response_complete() {
    let fake = FakeBedrock::start(vec![
        tool_use("tooluse_1", "add", &[r#"{"a": 10,"#, r#" "b": 5}"#]),
        text_answer(&["La suma de 10 y 5 ", "es 15."]),
        text_answer(&["¡Hola!"]),
    ])
    .await;
    let app = bedrock_app(&fake, |_| {}).await;
    let mut client = app.connect_raw().await;
    let ServerEvent::Ready { llm, tools, .. } = client.next_event().await else {
        panic!("expected ready first");
    };
    assert_eq!(
        (
            llm.provider.as_str(),
            llm.model.as_str(),
            llm.label.as_str()
        ),
        ("bedrock", MODEL, &*format!("Bedrock · {MODEL}"))
    );

    let events = client.turn("Suma 10 y 5").await;
    assert_eq!(
        kinds(&events),
        [
            "start",
            "step",
            "tool_call",
            "tool_result",
            "response_delta",
            "response_delta",
            "response",
            "complete"
        ],
        "{events:#?}"
    );
    assert_step_consults_bedrock(&events[1]);
    assert!(matches!(&events[2], ServerEvent::ToolCall { tool, .. } if tool == "add"));
    assert_eq!(args_json(&events[2]), r#"{"a":10,"b":5}"#);
    assert_eq!(
        crate::helpers::seed(&events[3]),
        ServerEvent::tool_result("add", "15", false)
    );
    assert_eq!(deltas(&events), ["La suma de 10 y 5 ", "es 15."]);
    assert_eq!(
        events[6],
        ServerEvent::Response {
            content: "La suma de 10 y 5 es 15.".into()
        }
    );
    assert_eq!(events[7], first_complete(7, 2));

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let first = &requests[0];
    assert_eq!(first.operation, "converse-stream");
    assert_eq!(first.model, MODEL);
    // Signed with the configured credentials, for the configured region.
    let auth = first.headers["authorization"].to_str().unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDTOOLSTREAMTEST/")
            && auth.contains("/us-east-1/bedrock/aws4_request"),
        "{auth}"
    );
    assert_eq!(
        first.body["messages"],
        json!([{ "role": "user", "content": [{ "text": "Suma 10 y 5" }] }])
    );
    assert!(
        first.body["system"][0]["text"]
            .as_str()
            .unwrap()
            .contains("tools")
    );
    // toolConfig: every toolbox tool, with its description and its JSON Schema.
    assert_eq!(tool_names(first), ["add", "divide", "multiply", "subtract"]);
    for (spec, tool) in first.body["toolConfig"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&tools)
    {
        assert_eq!(spec["toolSpec"]["description"], tool.description.as_str());
        assert_eq!(spec["toolSpec"]["inputSchema"]["json"], tool.parameters);
    }

    // The second call: the tool use and its result, roles alternating.
    let second = &requests[1];
    assert_eq!(roles(second), ["user", "assistant", "user"]);
    assert_eq!(
        messages(second)[1]["content"],
        json!([{ "toolUse": { "toolUseId": "tooluse_1", "name": "add", "input": { "a": 10, "b": 5 } } }])
    );
    assert_eq!(
        messages(second)[2]["content"],
        json!([{ "toolResult": { "toolUseId": "tooluse_1", "content": [{ "text": "15" }], "status": "success" } }])
    );
    assert_eq!(
        tool_names(second),
        ["add", "divide", "multiply", "subtract"]
    );

    // The next turn carries the whole conversation.
    let events = client.turn("Hola").await;
    assert_eq!(
        kinds(&events),
        ["start", "step", "response_delta", "response", "complete"]
    );
    let third = &fake.requests()[2];
    assert_eq!(
        roles(third),
        ["user", "assistant", "user", "assistant", "user"]
    );
    assert_eq!(
        messages(third)[3]["content"],
        json!([{ "text": "La suma de 10 y 5 es 15." }])
    );
    assert_eq!(messages(third)[4]["content"], json!([{ "text": "Hola" }]));
}

#[tokio::test]
async fn two_tool_uses_in_sequence() {
    let fake = FakeBedrock::start(vec![
        tool_use("t1", "add", &[r#"{"a":10,"b":5}"#]),
        tool_use("t2", "multiply", &[r#"{"a":15,"b":3}"#]),
        text_answer(&["(10 + 5) * 3 = ", "45"]),
    ])
    .await;
    let app = bedrock_app(&fake, |_| {}).await;
    let mut client = app.connect().await;
    let events = client.turn("Suma 10 y 5 y multiplica por 3").await;
    assert_eq!(
        kinds(&events),
        [
            "start",
            "step",
            "tool_call",
            "tool_result",
            "tool_call",
            "tool_result",
            "response_delta",
            "response_delta",
            "response",
            "complete"
        ],
        "{events:#?}"
    );
    assert_eq!(args_json(&events[2]), r#"{"a":10,"b":5}"#);
    assert!(matches!(&events[3], ServerEvent::ToolResult { result, .. } if result == "15"));
    assert!(matches!(&events[4], ServerEvent::ToolCall { tool, .. } if tool == "multiply"));
    assert_eq!(args_json(&events[4]), r#"{"a":15,"b":3}"#);
    assert!(matches!(&events[5], ServerEvent::ToolResult { result, .. } if result == "45"));
    assert_eq!(
        events[8],
        ServerEvent::Response {
            content: "(10 + 5) * 3 = 45".into()
        }
    );
    assert_eq!(events[9], first_complete(9, 3));

    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    let last = &requests[2];
    assert_eq!(
        roles(last),
        ["user", "assistant", "user", "assistant", "user"]
    );
    assert_eq!(
        messages(last)[3]["content"][0]["toolUse"]["toolUseId"],
        "t2"
    );
    assert_eq!(
        messages(last)[4]["content"],
        json!([{ "toolResult": { "toolUseId": "t2", "content": [{ "text": "45" }], "status": "success" } }])
    );
}

#[tokio::test]
async fn a_text_only_answer_streams_without_tools() {
    let fake = FakeBedrock::start(vec![text_answer(&["¡Hola! ", "¿En qué ", "te ayudo?"])]).await;
    let app = bedrock_app(&fake, |_| {}).await;
    let mut client = app.connect().await;
    let events = client.turn("Hola").await;
    assert_eq!(
        kinds(&events),
        [
            "start",
            "step",
            "response_delta",
            "response_delta",
            "response_delta",
            "response",
            "complete"
        ]
    );
    assert_step_consults_bedrock(&events[1]);
    assert_eq!(deltas(&events), ["¡Hola! ", "¿En qué ", "te ayudo?"]);
    assert_eq!(
        events[5],
        ServerEvent::Response {
            content: "¡Hola! ¿En qué te ayudo?".into()
        }
    );
    assert_eq!(events[6], first_complete(6, 1));
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(roles(&requests[0]), ["user"]);
}

#[tokio::test]
async fn throttling_is_retried_then_succeeds() {
    let fake = FakeBedrock::start(vec![
        service_error(
            429,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        ),
        text_answer(&["15"]),
    ])
    .await;
    let app = bedrock_app(&fake, |_| {}).await;
    let mut client = app.connect().await;
    let events = client.turn("Hola").await;
    assert_eq!(
        kinds(&events),
        ["start", "step", "response_delta", "response", "complete"],
        "{events:#?}"
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "the SDK retried the throttled call");
    assert_eq!(requests[0].body, requests[1].body);
}

#[tokio::test]
async fn throttling_that_never_ends_is_a_clear_error() {
    let throttled = || service_error(429, "ThrottlingException", "Too many requests.");
    let fake = FakeBedrock::start(vec![throttled(), throttled()]).await;
    let app = bedrock_app(&fake, |llm| llm.max_attempts = 2).await;
    let mut client = app.connect().await;
    let events = client.turn("Hola").await;
    assert_eq!(kinds(&events), ["start", "step", "error"]);
    assert_error(
        &events[2],
        ErrorCode::LlmUnavailable,
        "demasiadas peticiones",
    );
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn a_validation_error_is_a_clear_error_without_the_service_text() {
    let fake = FakeBedrock::start(vec![service_error(
        400,
        "ValidationException",
        "Malformed input request: #/messages/0: extraneous key [secretField] is not permitted",
    )])
    .await;
    let app = bedrock_app(&fake, |_| {}).await;
    let mut client = app.connect().await;
    let events = client.turn("Hola").await;
    assert_eq!(kinds(&events), ["start", "step", "error"]);
    let message = assert_error(&events[2], ErrorCode::LlmUnavailable, "rechazó la petición");
    assert!(!message.contains("secretField"), "{message}");
    assert_eq!(
        fake.requests().len(),
        1,
        "validation errors are not retried"
    );

    // English speakers get the same in English.
    let fake = FakeBedrock::start(vec![service_error(400, "ValidationException", "bad")]).await;
    let app = bedrock_app(&fake, |_| {}).await;
    let mut client = app.connect().await;
    let events = client.turn("add 2 and 3").await;
    assert_error(
        events.last().unwrap(),
        ErrorCode::LlmUnavailable,
        "refused the request: the request is not valid for this model",
    );
}

#[tokio::test]
async fn access_denied_and_unknown_model_name_the_problem_without_leaking() {
    let cases = [
        (
            service_error(
                403,
                "AccessDeniedException",
                "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: bedrock:InvokeModelWithResponseStream",
            ),
            "not allowed to use the language model",
        ),
        (
            service_error(
                404,
                "ResourceNotFoundException",
                "Model not found in account 123456789012",
            ),
            "does not exist or is not available",
        ),
        (
            service_error(
                400,
                "ValidationException",
                "The provided model identifier is invalid.",
            ),
            "does not exist or is not available",
        ),
    ];
    for (reply, needle) in cases {
        let fake = FakeBedrock::start(vec![reply]).await;
        let app = bedrock_app(&fake, |_| {}).await;
        let mut client = app.connect().await;
        let events = client.turn("add 2 and 3").await;
        assert_eq!(kinds(&events), ["start", "step", "error"]);
        let message = assert_error(&events[2], ErrorCode::LlmUnavailable, needle);
        assert!(
            !message.contains("123456789012") && !message.contains("arn:"),
            "{message}"
        );
        assert_eq!(fake.requests().len(), 1, "{needle}: not retried");
    }
}

#[tokio::test]
async fn a_stream_cut_midway_is_an_error_not_a_hang() {
    let fake = FakeBedrock::start(vec![
        Reply::StreamCut(vec![message_start(), text_delta(0, "The sum")]),
        text_answer(&["Hi again."]),
    ])
    .await;
    let app = bedrock_app(&fake, |_| {}).await;
    let mut client = app.connect().await;
    client.say("add 10 and 5").await;
    let mut events = Vec::new();
    for _ in 0..3 {
        events.push(client.next_event().await);
    }
    // The first piece of the answer arrived; now the connection breaks.
    fake.cut();
    events.extend(client.collect_turn().await);
    assert_eq!(
        kinds(&events),
        ["start", "step", "response_delta", "error"],
        "{events:#?}"
    );
    assert_eq!(deltas(&events), ["The sum"]);
    assert_error(&events[3], ErrorCode::LlmUnavailable, "cut off");
    assert_eq!(fake.requests().len(), 1);

    // The session goes on: the next turn works.
    let events = client.turn("hello").await;
    assert_eq!(
        kinds(&events),
        ["start", "step", "response_delta", "response", "complete"]
    );
}

#[tokio::test]
async fn a_stream_that_ends_without_message_stop_was_cut_off() {
    let fake = FakeBedrock::start(vec![Reply::Stream(vec![
        message_start(),
        tool_start(0, "t1", "add"),
        tool_input(0, r#"{"a":1"#),
    ])])
    .await;
    let app = bedrock_app(&fake, |_| {}).await;
    let mut client = app.connect().await;
    let events = client.turn("add 1 and 2").await;
    assert_eq!(kinds(&events), ["start", "step", "error"]);
    assert_error(&events[2], ErrorCode::LlmUnavailable, "cut off");
}

#[tokio::test]
async fn tool_input_split_across_many_deltas_is_assembled() {
    let input = r#"{"a": 10, "b": 5}"#;
    let fragments: Vec<String> = input.chars().map(String::from).collect();
    let fragments: Vec<&str> = fragments.iter().map(String::as_str).collect();
    let fake = FakeBedrock::start(vec![
        tool_use("t1", "add", &fragments),
        text_answer(&["15"]),
    ])
    .await;
    let app = bedrock_app(&fake, |_| {}).await;
    let mut client = app.connect().await;
    let events = client.turn("Suma 10 y 5").await;
    assert_eq!(
        kinds(&events),
        [
            "start",
            "step",
            "tool_call",
            "tool_result",
            "response_delta",
            "response",
            "complete"
        ]
    );
    assert_eq!(args_json(&events[2]), r#"{"a":10,"b":5}"#);
    assert!(matches!(&events[3], ServerEvent::ToolResult { result, .. } if result == "15"));
    assert_eq!(
        messages(&fake.requests()[1])[1]["content"][0]["toolUse"]["input"],
        json!({ "a": 10, "b": 5 })
    );
}

#[tokio::test]
async fn text_before_a_tool_use_streams_as_thinking_aloud() {
    let fake = FakeBedrock::start(vec![
        Reply::Stream(vec![
            message_start(),
            text_delta(0, "Voy a sumar."),
            block_stop(0),
            tool_start(1, "t1", "add"),
            tool_input(1, r#"{"a":10,"b":5}"#),
            block_stop(1),
            message_stop("tool_use"),
        ]),
        text_answer(&["15"]),
    ])
    .await;
    let app = bedrock_app(&fake, |_| {}).await;
    let mut client = app.connect().await;
    let events = client.turn("Suma 10 y 5").await;
    assert_eq!(
        kinds(&events),
        [
            "start",
            "step",
            "response_delta",
            "tool_call",
            "tool_result",
            "response_delta",
            "response",
            "complete"
        ]
    );
    assert_eq!(
        events[6],
        ServerEvent::Response {
            content: "15".into()
        }
    );
    assert_eq!(
        messages(&fake.requests()[1])[1]["content"],
        json!([
            { "text": "Voy a sumar." },
            { "toolUse": { "toolUseId": "t1", "name": "add", "input": { "a": 10, "b": 5 } } }
        ])
    );
}

#[tokio::test]
async fn invalid_tool_input_becomes_a_tool_error_the_model_sees() {
    let fake = FakeBedrock::start(vec![
        tool_use("t1", "add", &[r#"{"a": 10, "b": "#]),
        tool_use("t2", "add", &[r#"{"a": 10, "b": 5}"#]),
        text_answer(&["15"]),
    ])
    .await;
    let app = bedrock_app(&fake, |_| {}).await;
    let mut client = app.connect().await;
    let events = client.turn("Suma 10 y 5").await;
    assert_eq!(
        kinds(&events),
        [
            "start",
            "step",
            "tool_call",
            "tool_result",
            "tool_call",
            "tool_result",
            "response_delta",
            "response",
            "complete"
        ],
        "{events:#?}"
    );
    assert_eq!(args_json(&events[2]), "{}");
    match &events[3] {
        ServerEvent::ToolResult {
            tool,
            result,
            is_error: true,
            ..
        } => {
            assert_eq!(tool, "add");
            assert!(result.contains("not valid JSON"), "{result}");
        }
        other => panic!("expected an error tool_result, got {other:?}"),
    }
    assert!(
        matches!(&events[5], ServerEvent::ToolResult { result, is_error: false, .. } if result == "15")
    );

    let second = &fake.requests()[1];
    let result = &messages(second)[2]["content"][0]["toolResult"];
    assert_eq!(result["toolUseId"], "t1");
    assert_eq!(result["status"], "error");
    assert!(
        result["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    // The malformed call is in the history with an empty object as its input.
    assert_eq!(
        messages(second)[1]["content"][0]["toolUse"]["input"],
        json!({})
    );
}

#[tokio::test]
async fn models_that_cannot_stream_with_tools_fall_back_to_converse() {
    let fake = FakeBedrock::start(vec![
        service_error(400, "ValidationException", "This model doesn't support tool use in streaming mode."),
        converse(
            json!([{ "toolUse": { "toolUseId": "t1", "name": "add", "input": { "a": 10, "b": 5 } } }]),
            "tool_use",
        ),
        converse(json!([{ "text": "La suma de 10 y 5 es 15." }]), "end_turn"),
    ])
    .await;
    let app = bedrock_app(&fake, |_| {}).await;
    let mut client = app.connect().await;
    let events = client.turn("Suma 10 y 5").await;
    assert_eq!(
        kinds(&events),
        [
            "start",
            "step",
            "tool_call",
            "tool_result",
            "response_delta",
            "response",
            "complete"
        ],
        "{events:#?}"
    );
    assert_eq!(args_json(&events[2]), r#"{"a":10,"b":5}"#);
    assert_eq!(
        events[5],
        ServerEvent::Response {
            content: "La suma de 10 y 5 es 15.".into()
        }
    );
    let operations: Vec<String> = fake.requests().into_iter().map(|r| r.operation).collect();
    assert_eq!(operations, ["converse-stream", "converse", "converse"]);
    let last = &fake.requests()[2];
    assert_eq!(roles(last), ["user", "assistant", "user"]);
    assert_eq!(tool_names(last), ["add", "divide", "multiply", "subtract"]);
}

#[tokio::test]
async fn bedrock_streaming_false_uses_converse() {
    let fake = FakeBedrock::start(vec![converse(json!([{ "text": "¡Hola!" }]), "end_turn")]).await;
    let app = bedrock_app(&fake, |llm| llm.bedrock_streaming = false).await;
    let mut client = app.connect().await;
    let events = client.turn("Hola").await;
    assert_eq!(
        kinds(&events),
        ["start", "step", "response_delta", "response", "complete"]
    );
    assert_eq!(fake.requests()[0].operation, "converse");
}

#[tokio::test]
async fn a_silent_model_times_out_with_the_configured_timeout() {
    let fake = FakeBedrock::start(vec![Reply::StreamStall(vec![message_start()])]).await;
    let app = bedrock_app(&fake, |llm| {
        llm.timeout = std::time::Duration::from_millis(500);
    })
    .await;
    let mut client = app.connect().await;
    let events = client.turn("Hola").await;
    assert_eq!(kinds(&events), ["start", "step", "error"]);
    assert_error(&events[2], ErrorCode::Timeout, "no respondió a tiempo");
}

#[tokio::test]
async fn an_unknown_tool_reaches_the_toolbox_and_its_error_the_model() {
    // Names the model makes up pass through the name mapping unchanged; the
    // toolbox's "unknown tool" error goes back to the model as a tool error.
    let fake = FakeBedrock::start(vec![
        tool_use("t1", "math_pow", &[r#"{"a":2,"b":3}"#]),
        text_answer(&["No puedo."]),
    ])
    .await;
    let app = bedrock_app(&fake, |_| {}).await;
    let mut client = app.connect().await;
    let events = client.turn("Eleva 2 a 3").await;
    assert_eq!(
        kinds(&events),
        [
            "start",
            "step",
            "tool_call",
            "tool_result",
            "response_delta",
            "response",
            "complete"
        ]
    );
    assert!(
        matches!(&events[3], ServerEvent::ToolResult { tool, is_error: true, .. } if tool == "math_pow")
    );
    let requests = fake.requests();
    let result = &messages(&requests[1])[2]["content"][0]["toolResult"];
    assert_eq!(result["status"], "error");
}

#[tokio::test]
async fn bedrock_without_a_model_id_stops_startup_naming_the_setting() {
    let mut settings = Settings::for_tests();
    settings.llm.provider = Some(Provider::Bedrock);
    settings.llm.bedrock_model_id = None;
    let Err(error) = Application::build(settings).await else {
        panic!("startup should fail");
    };
    assert!(
        format!("{error:#}").contains("BEDROCK_MODEL_ID"),
        "{error:#}"
    );
}
