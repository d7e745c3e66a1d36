//! Who owns a conversation: a random secret in an `HttpOnly; SameSite=Strict` cookie,
//! set on any response to a request that has none. The server stores and compares
//! only its SHA-256 hash, in constant time, and never logs either.
//!
//! Browsers send the cookie by themselves; other clients (wscat, REST integrations)
//! keep the `Set-Cookie` of their first response and send it back as `Cookie`.

use axum::{
    extract::{FromRequestParts, Request},
    http::{HeaderValue, header, request::Parts},
    middleware::Next,
    response::Response,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The cookie's name.
pub const COOKIE: &str = "toolstream_owner";
/// A year: the cookie outlives browser sessions, like the conversations it owns.
const MAX_AGE_SECS: u64 = 365 * 24 * 3600;

/// The hash of a request's owner secret (hex SHA-256).
#[derive(Clone, PartialEq, Eq)]
pub struct Owner(String);

impl std::fmt::Debug for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Owner(…)")
    }
}

impl Owner {
    /// The owner holding `secret`.
    pub fn from_secret(secret: &str) -> Self {
        Self(hex::encode(Sha256::digest(secret.as_bytes())))
    }

    /// An owner from a stored hash.
    pub fn from_hash(hash: impl Into<String>) -> Self {
        Self(hash.into())
    }

    /// The hash as stored.
    pub fn hash(&self) -> &str {
        &self.0
    }

    /// Whether `stored` is this owner's hash, compared in constant time.
    pub fn owns(&self, stored: &str) -> bool {
        self.0.as_bytes().ct_eq(stored.as_bytes()).into()
    }
}

/// A fresh secret: 256 random bits, hex.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    // The OS random source does not fail on supported platforms; if it ever did, a
    // secret from two v4 UUIDs (also OS randomness, with a fallback) still serves.
    if getrandom::fill(&mut bytes).is_err() {
        let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        bytes[..16].copy_from_slice(a.as_bytes());
        bytes[16..].copy_from_slice(b.as_bytes());
    }
    hex::encode(bytes)
}

/// The owner secret a request's `Cookie` headers carry, if any.
fn secret_of(parts: &axum::http::HeaderMap) -> Option<&str> {
    parts
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty() && value.len() <= 128)
}

/// Gives every request an [`Owner`] (in its extensions) and sets the cookie on the
/// response when the request had none.
pub async fn middleware(mut request: Request, next: Next) -> Response {
    let (owner, fresh) = match secret_of(request.headers()) {
        Some(secret) => (Owner::from_secret(secret), None),
        None => {
            let secret = new_secret();
            (Owner::from_secret(&secret), Some(secret))
        }
    };
    let secure = is_https(&request);
    request.extensions_mut().insert(owner);
    let mut response = next.run(request).await;
    if let Some(secret) = fresh {
        let cookie = format!(
            "{COOKIE}={secret}; Path=/; Max-Age={MAX_AGE_SECS}; HttpOnly; SameSite=Strict{}",
            if secure { "; Secure" } else { "" }
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// Whether the client reached us over HTTPS (directly or through a proxy that says so).
fn is_https(request: &Request) -> bool {
    request.uri().scheme_str() == Some("https")
        || request
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

impl<S: Send + Sync> FromRequestParts<S> for Owner {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // The middleware runs on every route; a request that skipped it (a test
        // router without it) is an owner of its own, who owns nothing stored.
        Ok(parts
            .extensions
            .get::<Owner>()
            .cloned()
            .unwrap_or_else(|| Owner::from_secret(&new_secret())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_compare_and_never_show() {
        let owner = Owner::from_secret("s3cret");
        assert!(owner.owns(Owner::from_secret("s3cret").hash()));
        assert!(!owner.owns(Owner::from_secret("other").hash()));
        assert!(!owner.hash().contains("s3cret"));
        assert_eq!(format!("{owner:?}"), "Owner(…)");
    }

    #[test]
    fn finds_the_cookie_among_others() {
        let mut headers = axum::http::HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; toolstream_owner=abc ; b=2"),
        );
        assert_eq!(secret_of(&headers), Some("abc"));
        let mut none = axum::http::HeaderMap::new();
        none.append(
            header::COOKIE,
            HeaderValue::from_static("toolstream_owner="),
        );
        assert_eq!(secret_of(&none), None);
    }

    #[test]
    fn secrets_are_fresh() {
        assert_ne!(new_secret(), new_secret());
        assert_eq!(new_secret().len(), 64);
    }
}
