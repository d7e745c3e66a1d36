//! The server-rendered UI and the plain HTTP endpoints.

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_chat_page_is_rendered_on_the_server() {
    let app = spawn_app().await;
    let response = reqwest::get(app.url("/")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    for needle in [
        "<title>toolstream</title>",
        r#"href="/pkg/toolstream.css""#,
        "/pkg/toolstream.js",
        r#"class="transcript""#,
        r#"id="message""#,
        ">Connect<",
        ">Disconnect<",
        ">Send<",
        r#"data-status="connecting""#,
    ] {
        assert!(html.contains(needle), "the page lacks {needle}");
    }
}

#[tokio::test]
async fn health_answers_and_unknown_paths_are_404() {
    let app = spawn_app().await;
    let health = reqwest::get(app.url("/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["status"], "healthy");
    assert_eq!(
        reqwest::get(app.url("/no/such/page"))
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn liveness_and_readiness_probes() {
    let app = spawn_app().await;
    assert_eq!(
        reqwest::get(app.url("/healthz")).await.unwrap().status(),
        200
    );
    let ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["toolbox"]["tools"], 4);
    assert_eq!(body["llm"]["provider"], "local");
}

#[tokio::test]
async fn not_ready_while_the_toolbox_is_unreachable() {
    // Nothing listens on this port.
    let (_reserved, closed) = crate::helpers::refused_address();
    let url = format!("http://{closed}/mcp");
    let app = crate::helpers::spawn_app_with(|s| s.mcp_server_url = Some(url)).await;
    assert_eq!(
        reqwest::get(app.url("/healthz")).await.unwrap().status(),
        200
    );
    let ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
}
