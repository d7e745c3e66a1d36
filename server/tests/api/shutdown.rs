//! The real binary on SIGTERM with REST and SSE turns in flight, and its start-up
//! warning about exposure.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    fixtures::{Counter, SlowCalculator, ToolboxProcess},
    process::ServerProcess,
};

async fn wait_until(counter: &Counter, value: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while counter.get() < value {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never reached {value}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn url(server: &ServerProcess, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", server.port)
}

async fn status(url: &str) -> u16 {
    reqwest::get(url).await.map_or(0, |r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_turns_readyz_503_at_once_and_lets_rest_and_sse_turns_finish() {
    let calculator = SlowCalculator::new(Duration::from_millis(1500));
    let toolbox = ToolboxProcess::start(calculator.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let mut server = ServerProcess::start(&[("MCP_SERVER_URL", &toolbox.url())]).await;
    server.wait_healthy().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while status(&url(&server, "/readyz")).await != 200 {
        assert!(tokio::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let client = reqwest::Client::new();
    let rest = tokio::spawn(
        client
            .post(url(&server, "/api/chat"))
            .json(&json!({"message": "Suma 10 y 5"}))
            .send(),
    );
    let sse = tokio::spawn(
        client
            .post(url(&server, "/api/chat/stream"))
            .json(&json!({"message": "Suma 1 y 2"}))
            .send(),
    );
    wait_until(&calculator.started, 2).await; // both tool calls are running

    server.sigterm();
    // Not ready from the first moment of the drain, while the turns still run.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while status(&url(&server, "/readyz")).await != 503 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz stayed ready"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(calculator.finished.get(), 0, "503 came while the turns ran");
    let draining: Value = reqwest::get(url(&server, "/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(draining["status"], "draining");
    // New turns are refused meanwhile.
    let refused = client
        .post(url(&server, "/api/chat"))
        .json(&json!({"message": "Suma 3 y 4"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);

    let answered = rest.await.unwrap().unwrap();
    assert_eq!(answered.status(), 200);
    let body: Value = answered.json().await.unwrap();
    assert_eq!(body["response"], "La suma de 10 y 5 es 15.");
    let streamed = sse.await.unwrap().unwrap().text().await.unwrap();
    assert!(streamed.contains("event: tool_result"), "{streamed}");
    assert!(streamed.contains("event: complete"), "{streamed}");
    assert_eq!(calculator.finished.get(), 2);
    assert!(server.wait_exit().await.success());
    toolbox.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listening_beyond_loopback_without_a_key_warns_at_startup() {
    let warned = |server: &ServerProcess| {
        server
            .log_lines()
            .iter()
            .any(|l| l.contains("WARN") && l.contains("without AGENT_API_KEY"))
    };
    let mut public = ServerProcess::start(&[("HOST", "0.0.0.0"), ("LOG_FORMAT", "json")]).await;
    public.wait_healthy().await;
    assert!(warned(&public), "{:#?}", public.log_lines());
    public.sigterm();
    assert!(public.wait_exit().await.success());

    for env in [
        vec![
            ("HOST", "0.0.0.0"),
            ("LOG_FORMAT", "json"),
            ("AGENT_API_KEY", "k3y"),
        ],
        vec![("LOG_FORMAT", "json")],
    ] {
        let mut quiet = ServerProcess::start(&env).await;
        quiet.wait_healthy().await;
        assert!(!warned(&quiet), "{env:?}: {:#?}", quiet.log_lines());
        quiet.sigterm();
        assert!(quiet.wait_exit().await.success());
    }
}
