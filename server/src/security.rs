//! Who may use the server, and what browsers may do with its pages: the WebSocket
//! origin check, the optional API key, CORS for `/api`, and the security headers
//! (with a Content-Security-Policy that WASM hydration works under).

use axum::{
    extract::Request,
    http::{
        HeaderMap, HeaderName, HeaderValue, Method,
        header::{AUTHORIZATION, CONTENT_TYPE, HOST, ORIGIN},
    },
    middleware::Next,
    response::Response,
};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The WebSocket subprotocol prefix that carries an API key from browsers, which
/// cannot set headers on a WebSocket: `new WebSocket(url, ["toolstream", "bearer.KEY"])`.
const BEARER_PROTOCOL: &str = "bearer.";

/// Accepts a request with no `Origin` (servers, CLI clients), one from the server's
/// own origin, or one listed in `allowed`. Returns the refused origin otherwise.
pub fn check_origin(headers: &HeaderMap, allowed: &[String]) -> Result<(), String> {
    let Some(origin) = headers.get(ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().map_err(|_| "<not text>".to_owned())?.trim();
    if allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return Ok(());
    }
    // Same origin: the Origin's authority is the host the request was sent to
    // (as the client named it, or as a reverse proxy forwarded it).
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let hosts = [HOST, HeaderName::from_static("x-forwarded-host")];
    let same_origin = authority.is_some_and(|authority| {
        hosts.iter().any(|name| {
            headers
                .get(name)
                .and_then(|h| h.to_str().ok())
                .is_some_and(|host| host.eq_ignore_ascii_case(authority))
        })
    });
    if same_origin {
        Ok(())
    } else {
        Err(origin.to_owned())
    }
}

/// Whether the request carries the API key (always true when none is configured).
/// The key may come as `Authorization: Bearer KEY`, `X-API-Key: KEY`, the `token`
/// query parameter, or the `bearer.KEY` WebSocket subprotocol.
pub fn authorized(key: Option<&SecretString>, headers: &HeaderMap, query: Option<&str>) -> bool {
    let Some(key) = key else {
        return true;
    };
    let expected = key.expose_secret().as_bytes();
    let matches = |candidate: &str| bool::from(candidate.as_bytes().ct_eq(expected));

    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    let protocols = headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|p| p.trim().strip_prefix(BEARER_PROTOCOL));
    let token = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            (name == "token").then(|| percent_decode(value))
        });

    bearer.into_iter().chain(api_key).any(matches)
        || protocols.into_iter().any(matches)
        || token.into_iter().any(|t| matches(&t))
}

/// Decodes `%XX` escapes and `+` in a query value.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// CORS for `/api`: none unless origins are configured (`*` allows any).
pub fn cors(origins: &[String]) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            AUTHORIZATION,
            CONTENT_TYPE,
            HeaderName::from_static("x-api-key"),
        ]);
    if origins.iter().any(|o| o == "*") {
        return base.allow_origin(AllowOrigin::any());
    }
    let listed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    base.allow_origin(AllowOrigin::list(listed))
}

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
    let set = |headers: &mut HeaderMap, name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "referrer-policy", "no-referrer");
    set(headers, "x-frame-options", "DENY");
    let is_html = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        set(
            headers,
            "content-security-policy",
            &content_security_policy(&nonce, &host),
        );
    }
    response
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn origins() {
        let allowed = vec!["https://chat.example.com".to_owned(), "null".to_owned()];
        assert!(check_origin(&headers(&[]), &allowed).is_ok());
        let same = headers(&[
            ("origin", "http://localhost:8000"),
            ("host", "localhost:8000"),
        ]);
        assert!(check_origin(&same, &allowed).is_ok());
        let proxied = headers(&[
            ("origin", "https://agent.example.com"),
            ("host", "websocket-agent:8000"),
            ("x-forwarded-host", "agent.example.com"),
        ]);
        assert!(check_origin(&proxied, &allowed).is_ok());
        let listed = headers(&[("origin", "https://chat.example.com"), ("host", "x")]);
        assert!(check_origin(&listed, &allowed).is_ok());
        let file = headers(&[("origin", "null"), ("host", "localhost:8000")]);
        assert!(check_origin(&file, &allowed).is_ok());
        let foreign = headers(&[
            ("origin", "https://evil.example"),
            ("host", "localhost:8000"),
        ]);
        assert_eq!(
            check_origin(&foreign, &allowed),
            Err("https://evil.example".into())
        );
        assert!(check_origin(&file, &[]).is_err());
    }

    #[test]
    fn api_key_sources() {
        let key = SecretString::from("s3cret key".to_owned());
        let key = Some(&key);
        assert!(authorized(None, &headers(&[]), None));
        assert!(!authorized(key, &headers(&[]), None));
        assert!(authorized(
            key,
            &headers(&[("authorization", "Bearer s3cret key")]),
            None
        ));
        assert!(authorized(
            key,
            &headers(&[("x-api-key", "s3cret key")]),
            None
        ));
        assert!(authorized(
            key,
            &headers(&[]),
            Some("a=1&token=s3cret%20key")
        ));
        assert!(authorized(key, &headers(&[]), Some("token=s3cret+key")));
        let protocols = headers(&[("sec-websocket-protocol", "toolstream, bearer.s3cret key")]);
        assert!(authorized(key, &protocols, None));
        assert!(!authorized(
            key,
            &headers(&[("authorization", "Bearer wrong")]),
            Some("token=nope")
        ));
    }

    #[test]
    fn decodes_query_values() {
        assert_eq!(percent_decode("a%20b+c%2"), "a b c%2");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
