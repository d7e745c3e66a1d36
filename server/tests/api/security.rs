//! Host and origin checks (DNS rebinding, cross-site WebSockets), the API key on every
//! door, the original test page, and the security headers.

use protocol::ServerEvent;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{
    Error as WsError, Message, client::IntoClientRequest, http::HeaderValue,
    protocol::frame::coding::CloseCode,
};

use crate::helpers::{EVENT_TIMEOUT, TestApp, WsClient, spawn_app, spawn_app_with};

/// Opens `/ws` with extra request headers and an optional query string.
async fn connect_with(
    app: &TestApp,
    query: &str,
    headers: &[(&'static str, &str)],
) -> Result<WsClient, WsError> {
    let mut request = format!("ws://{}/ws{query}", app.address)
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request
            .headers_mut()
            .insert(*name, HeaderValue::from_str(value).unwrap());
    }
    let (socket, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(WsClient {
        socket,
        cookie: None,
    })
}

fn status(result: Result<WsClient, WsError>) -> u16 {
    match result {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Ok(_) => 101,
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

#[tokio::test]
async fn foreign_origins_are_refused_with_403() {
    let app = spawn_app_with(|s| s.allowed_origins = vec!["https://chat.example.com".into()]).await;
    let host = app.address.to_string();
    let same = format!("http://{host}");
    assert_eq!(status(connect_with(&app, "", &[]).await), 101, "no Origin");
    assert_eq!(
        status(connect_with(&app, "", &[("origin", &same)]).await),
        101,
        "same origin"
    );
    assert_eq!(
        status(connect_with(&app, "", &[("origin", "https://chat.example.com")]).await),
        101,
        "configured origin"
    );
    assert_eq!(
        status(connect_with(&app, "", &[("origin", "https://evil.example")]).await),
        403
    );
    assert_eq!(
        status(connect_with(&app, "", &[("origin", "null")]).await),
        403,
        "null not listed"
    );
    assert_eq!(
        app.metric("toolstream_ws_rejected_total{reason=\"origin\"}")
            .await,
        2.0
    );
}

#[tokio::test]
async fn origin_null_is_refused_unless_listed() {
    let app = spawn_app().await;
    assert_eq!(
        status(connect_with(&app, "", &[("origin", "null")]).await),
        403,
        "sandboxed frames and data: pages send Origin: null"
    );
    let listed = spawn_app_with(|s| s.allowed_origins = vec!["null".into()]).await;
    assert_eq!(
        status(connect_with(&listed, "", &[("origin", "null")]).await),
        101,
        "the original test page opened from disk, with ALLOWED_ORIGINS=null"
    );
}

/// A request for `path` with this `Host`; the status and JSON body.
async fn with_host(app: &TestApp, method: reqwest::Method, path: &str, host: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(method, app.url(path))
        .header("host", host)
        .json(&json!({"message": "Suma 1 y 1"}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_host_not_allowed_gets_421_on_every_route() {
    let app = spawn_app_with(|s| {
        s.public_origin = Some("https://chat.example.com".into());
        s.allowed_hosts = vec!["intranet.example:8443".into()];
    })
    .await;
    let port = app.address.port();
    use reqwest::Method;
    let routes = [
        (Method::GET, "/"),
        (Method::GET, "/ws"),
        (Method::GET, "/healthz"),
        (Method::GET, "/readyz"),
        (Method::GET, "/metrics"),
        (Method::GET, "/api/openapi.json"),
        (Method::POST, "/api/chat"),
        (Method::POST, "/api/chat/stream"),
        (Method::POST, "/mcp"),
        (Method::GET, "/test-websocket.html"),
        (Method::GET, "/pkg/toolstream.js"),
    ];
    for (method, path) in routes.clone() {
        for host in [
            format!("rebind.evil.example:{port}"),
            "chat.example.com.evil.example".to_owned(),
            "intranet.example:80".to_owned(),
        ] {
            let (status, body) = with_host(&app, method.clone(), path, &host).await;
            assert_eq!(status, 421, "{method} {path} for {host}");
            assert_eq!(body["error"], "host_not_allowed");
        }
    }
    // The names the server is known by.
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        "chat.example.com".to_owned(),
        "intranet.example:8443".to_owned(),
    ] {
        let (status, _) = with_host(&app, Method::GET, "/healthz", &host).await;
        assert_eq!(status, 200, "{host}");
    }
}

#[tokio::test]
async fn a_rebound_name_cannot_pass_as_the_same_origin() {
    let app = spawn_app().await;
    let port = app.address.port();
    let evil = format!("evil.example:{port}");
    let origin = format!("http://{evil}");
    // The attacker's page and socket agree on the name: without the host check, the
    // same-origin rule would let it in.
    assert_eq!(
        status(connect_with(&app, "", &[("origin", &origin), ("host", &evil)]).await),
        421
    );
    // A forged X-Forwarded-Host naming the attacker does not help either.
    assert_eq!(
        status(
            connect_with(
                &app,
                "",
                &[("origin", &origin), ("x-forwarded-host", &evil)]
            )
            .await
        ),
        403
    );
    let localhost = format!("localhost:{port}");
    let own = format!("http://{localhost}");
    assert_eq!(
        status(connect_with(&app, "", &[("origin", &own), ("host", &localhost)]).await),
        101
    );
}

async fn close_code(client: &mut WsClient) -> CloseCode {
    use futures::StreamExt;
    let message = tokio::time::timeout(EVENT_TIMEOUT, client.socket.next())
        .await
        .unwrap();
    match message {
        Some(Ok(Message::Close(Some(frame)))) => frame.code,
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn the_api_key_guards_the_websocket() {
    let app = spawn_app_with(|s| s.api_key = Some(SecretString::from("k3y".to_owned()))).await;

    // Without the key: accepted, then closed with 1008 (browsers can read that).
    let mut refused = connect_with(&app, "", &[]).await.unwrap();
    assert_eq!(close_code(&mut refused).await, CloseCode::Policy);
    // Never in the URL, which proxies and access logs keep.
    let mut in_url = connect_with(&app, "?token=k3y", &[]).await.unwrap();
    assert_eq!(close_code(&mut in_url).await, CloseCode::Policy);

    // Each accepted way of presenting it.
    let ways: [(&str, &[(&'static str, &str)]); 3] = [
        ("", &[("authorization", "Bearer k3y")]),
        ("", &[("x-api-key", "k3y")]),
        ("", &[("sec-websocket-protocol", "toolstream, bearer.k3y")]),
    ];
    for (query, headers) in ways {
        let mut client = connect_with(&app, query, headers).await.unwrap();
        assert!(matches!(
            client.next_event().await,
            ServerEvent::Ready { .. }
        ));
        let events = client.turn("Suma 2 y 2").await;
        assert_eq!(events.last(), Some(&ServerEvent::complete(5)));
    }
}

#[tokio::test]
async fn html_carries_security_headers_and_a_nonce_csp() {
    let app = spawn_app().await;
    let response = reqwest::get(app.url("/")).await.unwrap();
    let headers = response.headers().clone();
    let csp = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = response.text().await.unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the CSP");
    assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
    assert!(
        !csp.contains("'unsafe-inline'") && !csp.contains("'unsafe-eval'"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    // The hydration script carries the same nonce.
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the page's scripts lack the nonce"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");

    // A second page gets a different nonce.
    let again = reqwest::get(app.url("/")).await.unwrap();
    let csp_again = again.headers()["content-security-policy"].to_str().unwrap();
    assert_ne!(csp, csp_again);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/healthz", "/api/openapi.json", "/metrics", "/no/such/page"] {
        let response = reqwest::get(app.url(path)).await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
    }
}

#[tokio::test]
async fn the_embedded_toolbox_requires_the_key_and_the_server_sends_it() {
    let app = spawn_app_with(|s| s.api_key = Some(SecretString::from("k3y".to_owned()))).await;
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"}}});
    let call = |key: Option<&'static str>| {
        let mut request = reqwest::Client::new()
            .post(app.url("/mcp"))
            .header("accept", "application/json, text/event-stream")
            .json(&initialize);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    let refused = call(None).await.unwrap();
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
    assert_eq!(call(Some("wrong")).await.unwrap().status(), 401);
    assert_eq!(call(Some("k3y")).await.unwrap().status(), 200);
    // The agent's own MCP client presents the key: turns run.
    let mut client = connect_with(&app, "", &[("authorization", "Bearer k3y")])
        .await
        .unwrap();
    assert!(
        matches!(client.next_event().await, ServerEvent::Ready { tools, .. } if !tools.is_empty())
    );
    let events = client.turn("Suma 2 y 2").await;
    assert_eq!(events.last(), Some(&ServerEvent::complete(5)));
}

#[tokio::test]
async fn the_original_test_page_is_served_unchanged_under_its_own_policy() {
    let app = spawn_app().await;
    let response = reqwest::get(app.url("/test-websocket.html")).await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let page = response.text().await.unwrap();
    let original = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../end2end/fixtures/legacy-test-websocket.html"
    ))
    .unwrap();
    assert_eq!(page, original, "served byte for byte");
    // Its inline code is allowed by hash, nothing inline by a blanket rule.
    assert!(
        !csp.contains("'unsafe-inline'") && !csp.contains("'unsafe-eval'"),
        "{csp}"
    );
    assert!(!csp.contains("nonce-"), "{csp}");
    assert_eq!(
        csp.matches("'sha256-").count(),
        6,
        "script, 3 handlers, style, style attribute: {csp}"
    );
    assert!(csp.contains(&format!("ws://{}", app.address)), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers["referrer-policy"], "no-referrer");
}
