//! Which `Host` a request may name, and which browser origins may open `/ws`.
//!
//! A DNS-rebinding attack points a name the attacker controls at this server, so a page
//! on that name is "same origin" with it. Checking `Host` against the names the server
//! is known by ([`HostPolicy`]) defeats it; the origin check then trusts `Host` only
//! once it passed.

use std::net::IpAddr;

use axum::http::{
    HeaderMap, HeaderName,
    header::{HOST, ORIGIN},
};

/// The host names this server answers for (`ALLOWED_HOSTS` plus `PUBLIC_ORIGIN`'s).
#[derive(Debug, Clone, Default)]
pub struct HostPolicy {
    /// `*` was listed: any host.
    any: bool,
    /// Names matched exactly, with the port when one was given.
    exact: Vec<(String, Option<u16>)>,
    /// `.example.com` entries, stored as `example.com`: the name and its subdomains.
    domains: Vec<String>,
}

impl HostPolicy {
    /// A policy from `ALLOWED_HOSTS` entries and the public origin, if any.
    pub fn new<'a>(
        entries: impl IntoIterator<Item = &'a str>,
        public_origin: Option<&'a str>,
    ) -> Self {
        let mut policy = Self::default();
        let public_host = public_origin
            .and_then(|origin| origin.split_once("://"))
            .map(|(_, a)| a);
        for entry in entries.into_iter().chain(public_host) {
            let entry = entry.trim();
            if entry == "*" {
                policy.any = true;
            } else if let Some(domain) = entry.strip_prefix('.') {
                policy.domains.push(normalize(domain));
            } else if let Some((host, port)) = split_authority(entry) {
                policy.exact.push((host, port));
            }
        }
        policy
    }

    /// Whether a request naming `authority` (a `Host` value) is for this server. IP
    /// addresses and `localhost` (with its subdomains, which browsers resolve to
    /// loopback themselves) always are: no rebinding attack can make a browser send
    /// one of them for a page that is not on that very address.
    pub fn allows(&self, authority: &str) -> bool {
        let Some((host, port)) = split_authority(authority) else {
            return false;
        };
        if self.any
            || host.parse::<IpAddr>().is_ok()
            || host == "localhost"
            || host.ends_with(".localhost")
        {
            return true;
        }
        self.exact
            .iter()
            .any(|(name, want)| *name == host && want.is_none_or(|want| Some(want) == port))
            || self
                .domains
                .iter()
                .any(|domain| host == *domain || host.ends_with(&format!(".{domain}")))
    }

    /// The request's `Host` when it is not allowed. A request without one (HTTP/1.0
    /// tools; browsers always send it) passes.
    pub fn refused<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        let host = headers.get(HOST)?;
        match host.to_str() {
            Ok(host) if self.allows(host) => None,
            Ok(host) => Some(host),
            Err(_) => Some("<not text>"),
        }
    }
}

/// Lower case, without a trailing dot, IPv6 without brackets.
fn normalize(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Splits `host[:port]` (IPv6 in brackets, or bare as in `::1`). `None` when malformed.
fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let authority = authority.trim();
    if authority.is_empty() {
        return None;
    }
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?.parse().ok()?),
        };
        return Some((normalize(host), port));
    }
    // A bare IPv6 address (`::1`) has several colons and no port.
    if authority.matches(':').count() > 1 {
        return authority
            .parse::<IpAddr>()
            .ok()
            .map(|_| (normalize(authority), None));
    }
    match authority.split_once(':') {
        Some((host, port)) => Some((normalize(host), Some(port.parse().ok()?))),
        None => Some((normalize(authority), None)),
    }
}

/// What a WebSocket's `Origin` is checked against.
pub struct OriginPolicy<'a> {
    /// `ALLOWED_ORIGINS` (`*` for any, `null` for pages opened from disk).
    pub allowed: &'a [String],
    /// `PUBLIC_ORIGIN`.
    pub public: Option<&'a str>,
    pub hosts: &'a HostPolicy,
}

/// Accepts a request with no `Origin` (servers, CLI clients), one listed, the public
/// origin, or the server's own origin: the origin's authority is the allowed host the
/// request was sent to (`Host`, or `X-Forwarded-Host` from a proxy that rewrites
/// `Host`). Returns the refused origin otherwise.
pub fn check_origin(headers: &HeaderMap, policy: &OriginPolicy<'_>) -> Result<(), String> {
    let Some(origin) = headers.get(ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().map_err(|_| "<not text>".to_owned())?.trim();
    let same = |candidate: &str| candidate.trim_end_matches('/').eq_ignore_ascii_case(origin);
    if policy.allowed.iter().any(|a| a == "*" || same(a)) || policy.public.is_some_and(same) {
        return Ok(());
    }
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let hosts = [HOST, HeaderName::from_static("x-forwarded-host")];
    let same_origin = authority.is_some_and(|authority| {
        policy.hosts.allows(authority)
            && hosts.iter().any(|name| {
                headers
                    .get(name)
                    .and_then(|h| h.to_str().ok())
                    .is_some_and(|host| host.trim().eq_ignore_ascii_case(authority))
            })
    });
    if same_origin {
        Ok(())
    } else {
        Err(origin.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn hosts_by_name_port_domain_and_address() {
        let policy = HostPolicy::new(
            [
                "localhost",
                "127.0.0.1",
                "::1",
                "api.example.com:8443",
                ".corp.example",
            ],
            Some("https://chat.example.com"),
        );
        for ok in [
            "localhost",
            "LOCALHOST:8000",
            "localhost.",
            "chat.example.com",
            "chat.example.com:443",
            "api.example.com:8443",
            "corp.example",
            "a.b.corp.example:1",
            "10.1.2.3:8000",
            "[::1]:8000",
            "[fe80::1]",
        ] {
            assert!(policy.allows(ok), "{ok} refused");
        }
        for refused in [
            "evil.example",
            "localhost.evil.example",
            "api.example.com",
            "api.example.com:80",
            "notcorp.example",
            "chat.example.com.evil",
            "localhost:notaport",
            "[::1",
            "",
        ] {
            assert!(!policy.allows(refused), "{refused} allowed");
        }
        assert!(HostPolicy::new(["*"], None).allows("anything.example"));
        let none = HostPolicy::new([], None);
        for ok in [
            "localhost:8000",
            "app.localhost",
            "127.0.0.1",
            "[::1]:80",
            "192.0.2.1:8002",
        ] {
            assert!(none.allows(ok), "{ok} refused by an empty list");
        }
        assert!(!none.allows("example.com"));
        assert!(!none.allows("localhost.example.com"));
        assert_eq!(policy.refused(&headers(&[])), None, "no Host header");
        assert_eq!(
            policy.refused(&headers(&[("host", "rebind.evil:8000")])),
            Some("rebind.evil:8000")
        );
    }

    #[test]
    fn origins() {
        let hosts = HostPolicy::new(["localhost", "agent.example.com"], None);
        let allowed = vec!["https://chat.example.com".to_owned(), "null".to_owned()];
        let policy = OriginPolicy {
            allowed: &allowed,
            public: Some("https://public.example.com"),
            hosts: &hosts,
        };
        assert!(check_origin(&headers(&[]), &policy).is_ok());
        let same = headers(&[
            ("origin", "http://localhost:8000"),
            ("host", "localhost:8000"),
        ]);
        assert!(check_origin(&same, &policy).is_ok());
        let proxied = headers(&[
            ("origin", "https://agent.example.com"),
            ("host", "websocket-agent:8000"),
            ("x-forwarded-host", "agent.example.com"),
        ]);
        assert!(check_origin(&proxied, &policy).is_ok());
        let listed = headers(&[("origin", "https://chat.example.com"), ("host", "x")]);
        assert!(check_origin(&listed, &policy).is_ok());
        let public = headers(&[("origin", "https://public.example.com"), ("host", "x")]);
        assert!(check_origin(&public, &policy).is_ok());
        let file = headers(&[("origin", "null"), ("host", "localhost:8000")]);
        assert!(check_origin(&file, &policy).is_ok());
        let foreign = headers(&[
            ("origin", "https://evil.example"),
            ("host", "localhost:8000"),
        ]);
        assert_eq!(
            check_origin(&foreign, &policy),
            Err("https://evil.example".into())
        );
        // DNS rebinding: the attacker's name resolves here, so Origin and Host agree.
        let rebound = headers(&[
            ("origin", "http://evil.example:8000"),
            ("host", "evil.example:8000"),
        ]);
        assert!(check_origin(&rebound, &policy).is_err());
        let forged = headers(&[
            ("origin", "http://evil.example"),
            ("host", "localhost"),
            ("x-forwarded-host", "evil.example"),
        ]);
        assert!(check_origin(&forged, &policy).is_err());
        let none = OriginPolicy {
            allowed: &[],
            public: None,
            hosts: &hosts,
        };
        assert!(check_origin(&file, &none).is_err(), "null needs listing");
    }
}
