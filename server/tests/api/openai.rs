//! The OpenAI-compatible provider: the real server with `LLM_PROVIDER=openai`, its
//! real HTTP client, and a fake chat-completions server streaming server-sent events.
//! Each scenario asserts the exact WebSocket events and what the client sent.

use protocol::{ErrorCode, Node, ServerEvent};
use serde_json::{Value, json};
use server::{
    Application, Settings,
    llm::{LlmSettings, Provider},
};

use crate::{
    fake_openai::{
        FakeOpenAi, Recorded, Reply, call_arguments, call_start, content, done, error_status,
        finish, text_answer, tool_call,
    },
    helpers::{TestApp, args_json, assert_error, kinds, spawn_app_with},
};

pub const MODEL: &str = "llama3.1:8b";

pub async fn openai_app(fake: &FakeOpenAi, configure: impl FnOnce(&mut LlmSettings)) -> TestApp {
    let url = fake.base_url.clone();
    spawn_app_with(move |settings| {
        let llm = &mut settings.llm;
        llm.provider = Some(Provider::Openai);
        llm.openai_base_url = Some(url);
        llm.openai_model = Some(MODEL.into());
        configure(llm);
    })
    .await
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

#[tokio::test]
async fn suma_10_y_5_streams_the_tool_call_and_the_answer() {
    let fake = FakeOpenAi::start(vec![
        tool_call("call_1", "add", &[r#"{"a": 10,"#, r#" "b": 5}"#]),
        text_answer(&["La suma de 10 y 5 ", "es 15."]),
    ])
    .await;
    let app = openai_app(&fake, |llm| {
        llm.openai_api_key = Some("sk-test-key".into());
    })
    .await;
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
        ("openai", MODEL, &*format!("OpenAI-compatible · {MODEL}"))
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
    assert!(matches!(
        &events[1],
        ServerEvent::Step { node: Node::Llm, message } if message == &format!("Consultando al modelo {MODEL}...")
    ));
    assert_eq!(args_json(&events[2]), r#"{"a":10,"b":5}"#);
    assert_eq!(
        crate::helpers::seed(&events[3]),
        ServerEvent::tool_result("add", "15", false)
    );
    assert_eq!(
        events[6],
        ServerEvent::Response {
            content: "La suma de 10 y 5 es 15.".into()
        }
    );
    assert_eq!(events[7], ServerEvent::complete(7));

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let first = &requests[0];
    assert_eq!(first.headers["authorization"], "Bearer sk-test-key");
    assert_eq!(first.body["model"], MODEL);
    assert_eq!(first.body["stream"], true);
    assert_eq!(roles(first), ["system", "user"]);
    assert_eq!(messages(first)[1]["content"], "Suma 10 y 5");
    let functions = first.body["tools"].as_array().unwrap();
    assert_eq!(functions.len(), tools.len());
    for (function, tool) in functions.iter().zip(&tools) {
        assert_eq!(function["type"], "function");
        assert_eq!(function["function"]["name"], tool.name.as_str());
        assert_eq!(
            function["function"]["description"],
            tool.description.as_str()
        );
        assert_eq!(function["function"]["parameters"], tool.parameters);
    }

    let second = &requests[1];
    assert_eq!(roles(second), ["system", "user", "assistant", "tool"]);
    assert_eq!(
        messages(second)[2]["tool_calls"],
        json!([{ "id": "call_1", "type": "function",
                 "function": { "name": "add", "arguments": r#"{"a":10,"b":5}"# } }])
    );
    assert_eq!(
        messages(second)[3],
        json!({ "role": "tool", "tool_call_id": "call_1", "content": "15" })
    );
}

#[tokio::test]
async fn two_tool_calls_in_sequence() {
    let fake = FakeOpenAi::start(vec![
        tool_call("c1", "add", &[r#"{"a":10,"b":5}"#]),
        tool_call("c2", "multiply", &[r#"{"a":15,"b":3}"#]),
        text_answer(&["45"]),
    ])
    .await;
    let app = openai_app(&fake, |_| {}).await;
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
            "response",
            "complete"
        ],
        "{events:#?}"
    );
    assert_eq!(args_json(&events[4]), r#"{"a":15,"b":3}"#);
    assert!(matches!(&events[5], ServerEvent::ToolResult { result, .. } if result == "45"));
    let last = &fake.requests()[2];
    assert_eq!(
        roles(last),
        ["system", "user", "assistant", "tool", "assistant", "tool"]
    );
    assert_eq!(messages(last)[5]["tool_call_id"], "c2");
    assert_eq!(messages(last)[5]["content"], "45");
}

#[tokio::test]
async fn a_text_only_answer_streams() {
    let fake = FakeOpenAi::start(vec![text_answer(&["Hello", ", how can I ", "help?"])]).await;
    let app = openai_app(&fake, |_| {}).await;
    let mut client = app.connect().await;
    let events = client.turn("hello").await;
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
    assert_eq!(
        events[5],
        ServerEvent::Response {
            content: "Hello, how can I help?".into()
        }
    );
    // No key configured: no Authorization header.
    assert!(fake.requests()[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn http_429_is_retried_then_succeeds() {
    let fake = FakeOpenAi::start(vec![
        Reply::Status {
            status: 429,
            body: json!({ "error": { "message": "Rate limit reached" } }),
            retry_after: Some("0"),
        },
        text_answer(&["ok"]),
    ])
    .await;
    let app = openai_app(&fake, |_| {}).await;
    let mut client = app.connect().await;
    let events = client.turn("hello").await;
    assert_eq!(
        kinds(&events),
        ["start", "step", "response_delta", "response", "complete"],
        "{events:#?}"
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "retried after the 429");
    assert_eq!(requests[0].body, requests[1].body);
}

#[tokio::test]
async fn a_400_error_is_a_clear_error_without_the_service_text() {
    let fake = FakeOpenAi::start(vec![error_status(
        400,
        "Invalid schema for function 'add': internal detail",
    )])
    .await;
    let app = openai_app(&fake, |_| {}).await;
    let mut client = app.connect().await;
    let events = client.turn("add 2 and 3").await;
    assert_eq!(kinds(&events), ["start", "step", "error"]);
    let message = assert_error(
        &events[2],
        ErrorCode::LlmUnavailable,
        "not valid for this model",
    );
    assert!(!message.contains("internal detail"), "{message}");
    assert_eq!(fake.requests().len(), 1, "client errors are not retried");
}

#[tokio::test]
async fn bad_credentials_and_unknown_models_name_the_problem() {
    for (reply, needle) in [
        (
            error_status(401, "Incorrect API key provided: sk-abc"),
            "not allowed",
        ),
        (
            error_status(404, "model 'llama3.1:8b' not found, try pulling it first"),
            "does not exist",
        ),
        // A base URL without its `/v1`: the server has no such route.
        (
            error_status(404, "404 page not found"),
            "chat-completions endpoint was not found",
        ),
    ] {
        let fake = FakeOpenAi::start(vec![reply]).await;
        let app = openai_app(&fake, |_| {}).await;
        let mut client = app.connect().await;
        let events = client.turn("add 2 and 3").await;
        assert_eq!(kinds(&events), ["start", "step", "error"]);
        let message = assert_error(&events[2], ErrorCode::LlmUnavailable, needle);
        assert!(!message.contains("sk-abc"), "{message}");
        assert_eq!(fake.requests().len(), 1, "{needle}: not retried");
    }
}

#[tokio::test]
async fn a_stream_cut_midway_is_an_error_not_a_hang() {
    let fake = FakeOpenAi::start(vec![
        Reply::SseCut(vec![content("The sum")]),
        text_answer(&["Hi again."]),
    ])
    .await;
    let app = openai_app(&fake, |_| {}).await;
    let mut client = app.connect().await;
    client.say("add 10 and 5").await;
    let mut events = Vec::new();
    for _ in 0..3 {
        events.push(client.next_event().await);
    }
    fake.cut();
    events.extend(client.collect_turn().await);
    assert_eq!(
        kinds(&events),
        ["start", "step", "response_delta", "error"],
        "{events:#?}"
    );
    assert_error(&events[3], ErrorCode::LlmUnavailable, "cut off");
    assert_eq!(fake.requests().len(), 1);

    let events = client.turn("hello").await;
    assert_eq!(
        kinds(&events),
        ["start", "step", "response_delta", "response", "complete"]
    );
}

#[tokio::test]
async fn a_stream_that_ends_without_finishing_was_cut_off() {
    let fake = FakeOpenAi::start(vec![Reply::Sse(vec![
        call_start(0, "c1", "add"),
        call_arguments(0, r#"{"a":1"#),
    ])])
    .await;
    let app = openai_app(&fake, |_| {}).await;
    let mut client = app.connect().await;
    let events = client.turn("add 1 and 2").await;
    assert_eq!(kinds(&events), ["start", "step", "error"]);
    assert_error(&events[2], ErrorCode::LlmUnavailable, "cut off");
}

#[tokio::test]
async fn arguments_split_across_many_deltas_are_assembled() {
    let arguments = r#"{"a": 10, "b": 5}"#;
    let fragments: Vec<String> = arguments.chars().map(String::from).collect();
    let fragments: Vec<&str> = fragments.iter().map(String::as_str).collect();
    let fake = FakeOpenAi::start(vec![
        tool_call("c1", "add", &fragments),
        text_answer(&["15"]),
    ])
    .await;
    let app = openai_app(&fake, |_| {}).await;
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
}

#[tokio::test]
async fn invalid_arguments_become_a_tool_error_the_model_sees() {
    let fake = FakeOpenAi::start(vec![
        Reply::Sse(vec![
            content("Sumo."),
            call_start(0, "c1", "add"),
            call_arguments(0, r#"{"a": 10, "b": "#),
            finish("tool_calls"),
            done(),
        ]),
        text_answer(&["Perdón, me equivoqué."]),
    ])
    .await;
    let app = openai_app(&fake, |_| {}).await;
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
        ],
        "{events:#?}"
    );
    assert!(matches!(
        &events[4],
        ServerEvent::ToolResult { is_error: true, result, .. } if result.contains("not valid JSON")
    ));
    let second = &fake.requests()[1];
    assert_eq!(roles(second), ["system", "user", "assistant", "tool"]);
    assert_eq!(messages(second)[2]["content"], "Sumo.");
    let tool = &messages(second)[3];
    assert_eq!(tool["tool_call_id"], "c1");
    assert!(
        tool["content"]
            .as_str()
            .unwrap()
            .starts_with("Error: The tool input was not valid JSON")
    );
}

#[tokio::test]
async fn missing_settings_stop_startup_naming_them() {
    let mut settings = Settings::for_tests();
    settings.llm.provider = Some(Provider::Openai);
    settings.llm.openai_base_url = None;
    settings.llm.openai_model = Some(MODEL.into());
    let Err(error) = Application::build(settings.clone()).await else {
        panic!("startup should fail without a base URL");
    };
    assert!(
        format!("{error:#}").contains("OPENAI_BASE_URL"),
        "{error:#}"
    );

    settings.llm.openai_base_url = Some("http://127.0.0.1:9/v1".into());
    settings.llm.openai_model = None;
    let Err(error) = Application::build(settings).await else {
        panic!("startup should fail without a model");
    };
    assert!(format!("{error:#}").contains("OPENAI_MODEL"), "{error:#}");
}
