//! Who may use the server, and what browsers may do with its pages: the `Host` and
//! WebSocket origin checks ([`hosts`]), the optional API key, CORS for `/api`, and the
//! security headers ([`headers`]).

mod headers;
mod hosts;

use std::sync::Arc;

use axum::{
    Json,
    extract::{Request, State},
    http::{
        HeaderMap, HeaderName, HeaderValue, Method, StatusCode,
        header::{AUTHORIZATION, CONTENT_TYPE},
    },
    middleware::Next,
    response::{IntoResponse, Response},
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use subtle::ConstantTimeEq;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use headers::CspNonce;
pub use hosts::{HostPolicy, OriginPolicy, check_origin};

use crate::error::AppError;

/// The WebSocket subprotocol prefix that carries an API key from browsers, which
/// cannot set headers on a WebSocket: `new WebSocket(url, ["toolstream", "bearer.KEY"])`.
pub const BEARER_PROTOCOL: &str = "bearer.";

/// Whether the request carries the API key (always true when none is configured):
/// `Authorization: Bearer KEY`, `X-API-Key: KEY`, or the `bearer.KEY` WebSocket
/// subprotocol. Never a URL parameter: URLs end up in proxy and access logs.
pub fn authorized(key: Option<&SecretString>, headers: &HeaderMap) -> bool {
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
    bearer
        .into_iter()
        .chain(api_key)
        .chain(protocols)
        .any(matches)
}

/// Whether browsers can send `key` as the `bearer.KEY` subprotocol: a subprotocol is
/// an HTTP token (letters, digits and ``!#$%&'*+-.^_`|~``).
pub fn fits_subprotocol(key: &SecretString) -> bool {
    key.expose_secret()
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Middleware: 401 unless the request carries the API key (see [`authorized`]).
pub async fn require_api_key(
    State(key): State<Option<Arc<SecretString>>>,
    request: Request,
    next: Next,
) -> Response {
    if authorized(key.as_deref(), request.headers()) {
        next.run(request).await
    } else {
        AppError::Unauthorized.into_response()
    }
}

/// Middleware on every route: 421 for a `Host` the server does not answer for, then
/// the security headers (see [`headers`]) on whatever the route answers.
pub async fn guard(State(hosts): State<Arc<HostPolicy>>, request: Request, next: Next) -> Response {
    if let Some(host) = hosts.refused(request.headers()) {
        tracing::info!(%host, "refused a request for a host not in ALLOWED_HOSTS");
        let body = json!({
            "error": "host_not_allowed",
            "message": format!(
                "this server does not answer for the host {host:?}; add it to ALLOWED_HOSTS or set PUBLIC_ORIGIN"
            ),
        });
        let mut response = (StatusCode::MISDIRECTED_REQUEST, Json(body)).into_response();
        headers::set_common(response.headers_mut());
        return response;
    }
    headers::headers(request, next).await
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
    fn api_key_sources() {
        let key = SecretString::from("s3cret key".to_owned());
        let key = Some(&key);
        assert!(authorized(None, &headers(&[])));
        assert!(!authorized(key, &headers(&[])));
        assert!(authorized(
            key,
            &headers(&[("authorization", "Bearer s3cret key")])
        ));
        assert!(authorized(key, &headers(&[("x-api-key", "s3cret key")])));
        let protocols = headers(&[("sec-websocket-protocol", "toolstream, bearer.s3cret key")]);
        assert!(authorized(key, &protocols));
        assert!(!authorized(
            key,
            &headers(&[("authorization", "Bearer wrong")])
        ));
        assert!(!authorized(
            key,
            &headers(&[("authorization", "Basic s3cret key")])
        ));
    }

    #[test]
    fn which_keys_browsers_can_send() {
        assert!(fits_subprotocol(&SecretString::from(
            "a1B2-._~+!".to_owned()
        )));
        assert!(!fits_subprotocol(&SecretString::from(
            "has space".to_owned()
        )));
        assert!(!fits_subprotocol(&SecretString::from(
            "base64/with=".to_owned()
        )));
    }
}
