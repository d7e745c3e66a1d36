//! Unit tests of the per-client accounting.

use axum::http::HeaderValue;

use super::*;

fn limits(
    max_connections: usize,
    per_sec: f64,
    burst: u32,
    max_api_turns: usize,
) -> Arc<ClientLimits> {
    ClientLimits::new(LimitSettings {
        max_connections,
        per_sec,
        burst,
        max_api_turns,
        trusted_header: None,
    })
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn connections_are_capped_per_address_and_released_on_drop() {
    let limits = limits(2, 0.0, 1, 0);
    let a = limits.connect(ip("10.0.0.1")).unwrap();
    let _b = limits.connect(ip("10.0.0.1")).unwrap();
    assert!(matches!(
        limits.connect(ip("10.0.0.1")),
        Err(Refused::Connections)
    ));
    // Another address has its own count; HTTP connections count apart.
    let _other = limits.connect(ip("10.0.0.2")).unwrap();
    let _http = limits.accept(ip("10.0.0.1")).unwrap();
    drop(a);
    assert!(limits.connect(ip("10.0.0.1")).is_ok());
}

#[test]
fn the_rate_is_shared_by_an_address_and_survives_reconnects() {
    let limits = limits(0, 1.0, 3, 0);
    let first = limits.connect(ip("10.0.0.1")).unwrap();
    let second = limits.connect(ip("10.0.0.1")).unwrap();
    assert!(first.message().is_ok());
    assert!(second.message().is_ok());
    assert!(first.message().is_ok());
    let Err(Refused::Rate { retry_after }) = second.message() else {
        panic!("the burst of 3 is shared by both connections");
    };
    assert!(retry_after <= Duration::from_secs(1));
    drop((first, second));
    // A new connection does not get a fresh bucket.
    let again = limits.connect(ip("10.0.0.1")).unwrap();
    assert!(again.message().is_err());
    assert_eq!(limits.tracked(), 1);
}

#[test]
fn api_turns_take_a_token_and_a_slot() {
    let limits = limits(0, 0.0, 1, 2);
    let one = limits.api_turn(ip("10.0.0.1")).unwrap();
    let _two = limits.api_turn(ip("10.0.0.1")).unwrap();
    let refused = limits.api_turn(ip("10.0.0.1")).err().unwrap();
    assert_eq!(refused, Refused::Turns);
    assert_eq!(refused.retry_after_secs(), 1);
    drop(one);
    assert!(limits.api_turn(ip("10.0.0.1")).is_ok());
}

#[test]
fn idle_clients_are_forgotten() {
    let limits = limits(4, 0.0, 1, 0);
    for n in 0..3000u32 {
        let slot = limits.accept(IpAddr::from(n.to_be_bytes())).unwrap();
        drop(slot);
    }
    assert_eq!(limits.tracked(), 0);
    let held: Vec<_> = (0..2000u32)
        .map(|n| limits.accept(IpAddr::from(n.to_be_bytes())).unwrap())
        .collect();
    assert_eq!(limits.tracked(), 2000);
    drop(held);
    assert_eq!(limits.tracked(), 0);
}

#[test]
fn addresses_from_the_trusted_header_and_ipv6_blocks() {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        HeaderValue::from_static("6.6.6.6, 203.0.113.7"),
    );
    let peer: SocketAddr = "10.0.0.9:5000".parse().unwrap();
    let untrusting = limits(1, 0.0, 1, 0);
    assert_eq!(untrusting.client_ip(&headers, peer), ip("10.0.0.9"));
    let trusting = ClientLimits::new(LimitSettings {
        max_connections: 1,
        per_sec: 0.0,
        burst: 1,
        max_api_turns: 0,
        trusted_header: Some(HeaderName::from_static("x-forwarded-for")),
    });
    assert!(!trusting.counts_peers());
    assert_eq!(trusting.client_ip(&headers, peer), ip("203.0.113.7"));
    headers.insert(
        "x-forwarded-for",
        HeaderValue::from_static("[2001:db8::1]:443"),
    );
    assert_eq!(trusting.client_ip(&headers, peer), ip("2001:db8::1"));
    headers.insert("x-forwarded-for", HeaderValue::from_static("garbage"));
    assert_eq!(trusting.client_ip(&headers, peer), ip("10.0.0.9"));
    assert_eq!(trusting.client_ip(&HeaderMap::new(), peer), ip("10.0.0.9"));

    assert_eq!(client_key(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
    assert_eq!(client_key(ip("::ffff:1.2.3.4")), ip("1.2.3.4"));
    let _a = trusting.connect(ip("2001:db8:1:2::1")).unwrap();
    assert!(
        trusting.connect(ip("2001:db8:1:2::ffff")).is_err(),
        "same /64"
    );
}
