//! Origin checks, the API key and the security headers.

use protocol::ServerEvent;
use secrecy::SecretString;
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
async fn pages_opened_from_disk_are_allowed_by_default() {
    let app = spawn_app().await;
    assert_eq!(
        status(connect_with(&app, "", &[("origin", "null")]).await),
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
    let mut wrong = connect_with(&app, "?token=nope", &[]).await.unwrap();
    assert_eq!(close_code(&mut wrong).await, CloseCode::Policy);

    // Each accepted way of presenting it.
    let ways: [(&str, &[(&'static str, &str)]); 3] = [
        ("", &[("authorization", "Bearer k3y")]),
        ("?token=k3y", &[]),
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

    // A second page gets a different nonce.
    let again = reqwest::get(app.url("/")).await.unwrap();
    let csp_again = again.headers()["content-security-policy"].to_str().unwrap();
    assert_ne!(csp, csp_again);
}
