//! The security headers of every response, and the Content-Security-Policy (with a
//! fresh nonce per page, which WASM hydration works under) of HTML pages.

use axum::{
    extract::Request,
    http::{
        HeaderMap, HeaderName, HeaderValue,
        header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST},
    },
    middleware::Next,
    response::Response,
};

/// The nonce of one HTML response, handed to Leptos (which puts it on its inline
/// hydration script) through the request's extensions.
#[derive(Debug, Clone)]
pub struct CspNonce(pub String);

/// Adds the security headers to every response, and a per-response
/// Content-Security-Policy with a fresh nonce to HTML pages.
pub async fn headers(mut request: Request, next: Next) -> Response {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let host = request
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    request.extensions_mut().insert(CspNonce(nonce.clone()));
    let mut response = next.run(request).await;

    let headers = response.headers_mut();
    set_common(headers);
    let is_html = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    // A page that brings its own policy (the legacy test page) keeps it.
    if is_html
        && !headers.contains_key(CONTENT_SECURITY_POLICY)
        && let Ok(value) = HeaderValue::from_str(&content_security_policy(&nonce, &host))
    {
        headers.insert(CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// The headers every response gets, whatever it is.
pub fn set_common(headers: &mut HeaderMap) {
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("DENY"),
    );
}

/// Scripts only from this origin or with the nonce; WebAssembly compilation allowed
/// (`wasm-unsafe-eval`, not `unsafe-eval`); WebSockets only back to this host.
fn content_security_policy(nonce: &str, host: &str) -> String {
    let mut connect = format!("'self' ws://{host} wss://{host}");
    // `cargo leptos watch` reloads the page through its own WebSocket port.
    if std::env::var_os("LEPTOS_WATCH").is_some() {
        let hostname = host.rsplit_once(':').map_or(host, |(name, _)| name);
        let port = std::env::var("LEPTOS_RELOAD_PORT").unwrap_or_else(|_| "8001".into());
        connect.push_str(&format!(" ws://{hostname}:{port}"));
    }
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src {connect}; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}
