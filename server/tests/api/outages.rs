//! Redis or PostgreSQL going away under load: clear errors (`/readyz` naming the part
//! that is down, turns ending with `storage_unavailable`), never a hang or a crash,
//! and recovery by itself once they are back, with nothing stored lost.

use std::time::Duration;

use protocol::{ErrorCode, ServerEvent};

use crate::{
    durable::{tool_results, turn_frames},
    engines::{Postgres, Redis},
    helpers::{TestApp, WsClient, spawn_app_with},
};

/// Polls `/readyz` until it answers `status`; returns its body.
async fn readiness(app: &TestApp, status: u16) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let response = reqwest::get(app.url("/readyz")).await.unwrap();
        if response.status().as_u16() == status {
            return response.json().await.unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz never answered {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clients asking in a loop: every turn ends (complete, or storage_unavailable),
/// none hangs. Returns how many completed and how many were refused.
async fn load(app: &TestApp, clients: usize, turns: usize) -> (usize, usize) {
    let mut tasks = Vec::new();
    for c in 0..clients {
        let mut client: WsClient = app.connect().await;
        tasks.push(tokio::spawn(async move {
            let (mut complete, mut refused) = (0, 0);
            for t in 0..turns {
                let events = client.turn(&format!("Suma {c} y {t}")).await;
                match events.last() {
                    Some(ServerEvent::Complete { .. }) => complete += 1,
                    Some(ServerEvent::Error {
                        code: Some(ErrorCode::StorageUnavailable),
                        ..
                    }) => refused += 1,
                    other => panic!("unexpected end of a turn: {other:?}"),
                }
            }
            (complete, refused)
        }));
    }
    let mut totals = (0, 0);
    for task in tasks {
        let (complete, refused) = task.await.unwrap();
        totals.0 += complete;
        totals.1 += refused;
    }
    totals
}

#[tokio::test]
async fn redis_down_then_back() {
    let postgres = Postgres::start();
    let mut redis = Redis::start();
    let (database, bus) = (postgres.url(), redis.url());
    let app = spawn_app_with(move |s| {
        s.database_url = database;
        s.redis_url = Some(bus);
        s.turn_lease = Duration::from_secs(1);
    })
    .await;
    let mut client = app.connect().await;
    assert_eq!(
        tool_results(&turn_frames(&mut client, "Suma 1 y 1").await),
        ["2"]
    );

    redis.pause();
    let body = readiness(&app, 503).await;
    assert_eq!(body["bus"]["ok"], false, "{body}");
    assert_eq!(body["bus"]["kind"], "redis");
    assert_eq!(body["store"]["ok"], true);
    let (complete, refused) = load(&app, 4, 3).await;
    assert_eq!(complete, 0, "no turn runs without Redis");
    assert_eq!(refused, 12);

    redis.resume();
    readiness(&app, 200).await;
    let (complete, refused) = load(&app, 4, 3).await;
    assert_eq!((complete, refused), (12, 0));
    // The connection that lived through the outage works again too.
    assert_eq!(
        tool_results(&turn_frames(&mut client, "Suma 2 y 2").await),
        ["4"]
    );
}

#[tokio::test]
async fn postgres_down_then_back() {
    let mut postgres = Postgres::start();
    let database = postgres.url();
    let app = spawn_app_with(move |s| s.database_url = database).await;
    let mut client = app.connect().await;
    assert_eq!(
        tool_results(&turn_frames(&mut client, "Suma 1 y 1").await),
        ["2"]
    );
    let owner = client.owner().to_owned();

    postgres.pause();
    let body = readiness(&app, 503).await;
    assert_eq!(body["store"]["ok"], false, "{body}");
    assert_eq!(body["store"]["kind"], "postgres");
    // Turns end cleanly while the database is away: some may still run (kept in
    // memory until it returns), the rest are refused.
    let (complete, refused) = load(&app, 4, 3).await;
    assert_eq!(complete + refused, 12);
    assert!(refused > 0, "turns are refused once a commit has failed");

    postgres.resume();
    readiness(&app, 200).await;
    let (complete, refused) = load(&app, 4, 3).await;
    assert_eq!((complete, refused), (12, 0));
    assert_eq!(
        tool_results(&turn_frames(&mut client, "Suma 2 y 2").await),
        ["4"]
    );

    // What ran before the outage is stored.
    let listed: Vec<serde_json::Value> = reqwest::Client::new()
        .get(app.url("/api/conversations"))
        .header("cookie", owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0]["turns"].as_u64().unwrap() >= 2);
}
