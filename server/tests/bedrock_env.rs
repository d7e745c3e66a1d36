//! Bedrock configured the way a deployment configures it: only environment variables
//! (`BEDROCK_MODEL_ID`, `AWS_REGION`, the service-specific endpoint variable
//! `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`, credentials in `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY`) read by the real settings parser and the standard AWS
//! credential chain, against the fake Bedrock on loopback.
//!
//! A test binary of its own without the libtest harness: the variables are set in
//! `main` before any thread exists, which is the only sound time to set them.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

#[path = "api/fake_bedrock.rs"]
#[allow(dead_code)]
mod fake_bedrock;
#[path = "api/fake_script.rs"]
#[allow(dead_code)]
mod fake_script;
#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use protocol::ServerEvent;
use serde_json::json;

use fake_bedrock::{FakeBedrock, text_answer, tool_use};

const MODEL: &str = "amazon.nova-lite-v1:0";

#[allow(clippy::print_stdout)] // Reports like libtest does.
fn main() {
    // Bound first so the endpoint variable can name its port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let missing = std::env::temp_dir().join("toolstream-no-such-aws-file");
    // SAFETY: no other thread runs yet (no runtime, no harness), so nothing can read
    // the environment while it changes.
    unsafe {
        for name in [
            "LLM_PROVIDER",
            "BEDROCK_ENDPOINT_URL",
            "AWS_ENDPOINT_URL",
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ] {
            std::env::remove_var(name);
        }
        std::env::set_var("BEDROCK_MODEL_ID", MODEL);
        std::env::set_var("AWS_REGION", "eu-west-1");
        std::env::set_var("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", &endpoint);
        std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDFROMENVIRONMENT");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "env-secret");
        // Nothing on this machine may answer for credentials or configuration.
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_CONFIG_FILE", &missing);
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", &missing);
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(environment_configures_bedrock(listener));
    println!("test bedrock_env::environment_configures_bedrock ... ok");
}

async fn environment_configures_bedrock(listener: std::net::TcpListener) {
    let fake = FakeBedrock::start_on(
        listener,
        vec![
            tool_use("t1", "add", &[r#"{"a":10,"b":5}"#]),
            text_answer(&["La suma de 10 y 5 ", "es 15."]),
        ],
    )
    .await;
    // LLM_PROVIDER is unset: a Bedrock model id alone selects Bedrock. The LLM
    // settings come from the environment as the binary reads them (`for_tests()`
    // itself ignores the environment).
    let app = helpers::spawn_app_with(|settings| {
        use clap::Parser;
        settings.llm = server::Settings::parse_from(["server"]).llm;
    })
    .await;
    let mut client = app.connect_raw().await;
    let ServerEvent::Ready { llm, .. } = client.next_event().await else {
        panic!("expected ready first");
    };
    assert_eq!(
        (llm.provider.as_str(), llm.model.as_str()),
        ("bedrock", MODEL)
    );

    let events = client.turn("Suma 10 y 5").await;
    assert_eq!(
        helpers::kinds(&events),
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
    assert_eq!(helpers::args_json(&events[2]), r#"{"a":10,"b":5}"#);

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].model, MODEL);
    let auth = requests[0].headers["authorization"].to_str().unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDFROMENVIRONMENT/")
            && auth.contains("/eu-west-1/bedrock/aws4_request"),
        "{auth}"
    );
    assert_eq!(
        requests[1].body["messages"][2]["content"],
        json!([{ "toolResult": { "toolUseId": "t1", "content": [{ "text": "15" }], "status": "success" } }])
    );
}
