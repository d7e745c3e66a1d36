//! Bounded soaks: many clients, many turns, with and without a toolbox restart.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use protocol::{ErrorCode, ServerEvent};

use crate::{
    fixtures::{SlowCalculator, ToolboxProcess},
    helpers::{spawn_app, spawn_app_with},
};

const CLIENTS: usize = 200;
const TURNS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_times_twenty_turns_all_complete() {
    let app = spawn_app().await;
    let clients = (0..CLIENTS).map(|c| {
        let app = &app;
        async move {
            let mut client = app.connect().await;
            for t in 0..TURNS {
                let events = client.turn(&format!("Suma {c} y {t}")).await;
                let expected = (c + t).to_string();
                assert!(
                    events.iter().any(|e| matches!(e, ServerEvent::ToolResult { result, .. } if *result == expected)),
                    "client {c} turn {t}: {events:?}"
                );
                assert_eq!(events.last(), Some(&ServerEvent::complete(5)), "client {c} turn {t}");
            }
        }
    });
    futures::future::join_all(clients).await;
    let completed = app
        .metric("toolstream_turns_total{outcome=\"complete\"}")
        .await;
    assert_eq!(completed, (CLIENTS * TURNS) as f64);
    assert_eq!(
        app.metric("toolstream_turns_total{outcome=\"error\"}")
            .await,
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_toolbox_restart_halfway_never_crashes_or_strands_a_turn() {
    let toolbox = ToolboxProcess::start(
        SlowCalculator::new(Duration::ZERO),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await;
    let address = toolbox.address;
    let app = spawn_app_with(|s| s.mcp_server_url = Some(toolbox.url())).await;
    let finished = Arc::new(AtomicUsize::new(0));
    let completed = Arc::new(AtomicUsize::new(0));

    // Restart the toolbox once half the turns are done.
    let restarter = {
        let finished = finished.clone();
        tokio::spawn(async move {
            while finished.load(Ordering::SeqCst) < CLIENTS * TURNS / 2 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            toolbox.kill().await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            ToolboxProcess::start(SlowCalculator::new(Duration::ZERO), address).await
        })
    };

    let clients = (0..CLIENTS).map(|c| {
        let (app, finished, completed) = (&app, finished.clone(), completed.clone());
        async move {
            let mut client = app.connect().await;
            for t in 0..TURNS {
                let events = client.turn(&format!("Suma {c} y {t}")).await;
                match events.last() {
                    Some(ServerEvent::Complete { steps: 5, .. }) => {
                        completed.fetch_add(1, Ordering::SeqCst);
                    }
                    Some(ServerEvent::Error {
                        code: Some(ErrorCode::ToolboxUnavailable),
                        ..
                    }) => {
                        // Give the toolbox a moment before the next turn.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    other => panic!("client {c} turn {t} ended with {other:?}"),
                }
                finished.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    futures::future::join_all(clients).await;
    let restarted = restarter.await.unwrap();

    // Every turn ended; the server is healthy and serves again.
    assert_eq!(finished.load(Ordering::SeqCst), CLIENTS * TURNS);
    assert!(completed.load(Ordering::SeqCst) >= CLIENTS * TURNS / 2);
    assert_eq!(
        reqwest::get(app.url("/healthz")).await.unwrap().status(),
        200
    );
    let mut client = app.connect().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let events = client.turn("Suma 1 y 1").await;
        if events.last() == Some(&ServerEvent::complete(5)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never recovered: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.wait_for_metric("toolstream_turns_running", 0.0).await;
    restarted.kill().await;
}
