//! The soak of the hardening issue, against the real binary with its default store
//! (SQLite): 2,000 connections open sessions and leave them in their grace period,
//! while 200 clients send as fast as they can for 30 seconds. The server's memory
//! stays under its configured budget, and every message it accepted got exactly one
//! terminal event.

use std::{
    collections::HashMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use futures::{SinkExt, StreamExt};
use protocol::{ErrorCode, ServerEvent, ServerFrame};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    engines::TempDir,
    helpers::{WsClient, connect_to},
    process::ServerProcess,
};

const PARKED: usize = 2_000;
const SENDERS: usize = 200;
const SOAK: Duration = Duration::from_secs(30);
const BUDGET_MB: u64 = 192;

/// The process's peak resident set (`VmHWM`), in MiB.
fn peak_rss_mb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024
}

/// What one sender saw.
#[derive(Default)]
struct Tally {
    sent: usize,
    /// Messages refused before any turn started (rate limit, full queue).
    refused: usize,
    /// Terminal events per turn.
    terminals: HashMap<String, usize>,
    /// How the reading ended.
    end: String,
}

/// Reading gives up when no text frame came for this long (pings do not count).
const SILENCE: Duration = Duration::from_secs(30);

impl Tally {
    /// Counts one text frame.
    fn count(&mut self, text: &str) {
        let frame: ServerFrame = serde_json::from_str(text).unwrap();
        match (&frame.turn_id, &frame.event) {
            (Some(turn), event) if event.is_terminal() => {
                *self.terminals.entry(turn.clone()).or_default() += 1;
            }
            (Some(turn), _) => {
                self.terminals.entry(turn.clone()).or_default();
            }
            (
                None,
                ServerEvent::Error {
                    code: Some(ErrorCode::RateLimited | ErrorCode::Busy),
                    ..
                },
            ) => self.refused += 1,
            (None, other) => panic!("unexpected event outside a turn: {other:?}"),
        }
    }

    /// Whether every message sent is accounted for: refused, or a turn that ended.
    fn settled(&self, sent: usize) -> bool {
        let ended = self.terminals.values().filter(|c| **c > 0).count();
        self.refused + ended >= sent
    }
}

/// Sends as fast as the socket takes them for [`SOAK`], reading everything that
/// comes back, until every message sent is accounted for.
async fn sender(client: WsClient, index: usize) -> Tally {
    let (mut sink, mut stream) = client.socket.split();
    let (done_tx, mut done) = tokio::sync::watch::channel(None::<usize>);
    let reader = tokio::spawn(async move {
        let mut tally = Tally::default();
        let mut quiet_until = tokio::time::Instant::now() + SILENCE;
        loop {
            let sent = *done.borrow();
            if sent.is_some_and(|sent| tally.settled(sent)) {
                tally.end = "settled".into();
                break;
            }
            let message = tokio::select! {
                _ = done.changed() => continue,
                () = tokio::time::sleep_until(quiet_until) => {
                    tally.end = format!("no event for {SILENCE:?}");
                    break;
                }
                message = stream.next() => message,
            };
            match message {
                Some(Ok(Message::Text(text))) => {
                    quiet_until = tokio::time::Instant::now() + SILENCE;
                    tally.count(&text);
                }
                Some(Ok(Message::Close(frame))) => {
                    tally.end = format!("closed by the server: {frame:?}");
                    break;
                }
                Some(Ok(_)) => {}
                other => {
                    tally.end = format!("the socket ended: {other:?}");
                    break;
                }
            }
        }
        tally
    });
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < SOAK {
        let text = format!(r#"{{"type":"message","content":"Suma {index} y {sent}"}}"#);
        if sink.send(Message::text(text)).await.is_err() {
            break;
        }
        sent += 1;
        // As fast as possible, but let the other 199 senders and the server run.
        tokio::task::yield_now().await;
    }
    let _ = done_tx.send(Some(sent));
    let mut tally = reader.await.unwrap();
    tally.sent = sent;
    drop(sink);
    tally
}

/// Run alone (it saturates the machine for half a minute, which would upset the
/// timing of tests beside it): `scripts/test.sh` runs it after the others, with
/// `-- --ignored soak`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a soak: run alone by scripts/test.sh"]
async fn memory_stays_bounded_and_every_accepted_message_ends_once() {
    let dir = TempDir::new("toolstream-soak");
    let database = format!("sqlite://{}/soak.db", dir.path().display());
    let budget = BUDGET_MB.to_string();
    let server = ServerProcess::start(&[
        ("DATABASE_URL", &database),
        ("SESSION_MEMORY_MB", &budget),
        ("MAX_CONNECTIONS_PER_CLIENT", "0"),
        ("CLIENT_RATE_LIMIT_PER_SEC", "0"),
        ("LOG_LEVEL", "warn,server::startup=info"),
    ])
    .await;
    server.wait_healthy().await;
    let address: SocketAddr = format!("127.0.0.1:{}", server.port).parse().unwrap();

    // 2,000 sessions whose clients left: they wait in their grace period.
    let mut parked = Vec::with_capacity(PARKED);
    for _ in 0..PARKED {
        let mut client = connect_to(address, None).await;
        assert_eq!(client.next_event().await.kind(), "ready");
        parked.push(client);
    }
    drop(parked);

    let mut senders = Vec::with_capacity(SENDERS);
    for index in 0..SENDERS {
        let mut client = connect_to(address, None).await;
        assert_eq!(client.next_event().await.kind(), "ready");
        senders.push(tokio::spawn(sender(client, index)));
    }
    let mut totals = Tally::default();
    for sender in senders {
        let tally = sender.await.unwrap();
        // Every message was either refused at once or became a turn with exactly one
        // terminal event.
        let turns = tally.terminals.len();
        let open = tally.terminals.values().filter(|c| **c == 0).count();
        assert_eq!(
            tally.refused + turns,
            tally.sent,
            "messages unaccounted for: {} refused, {turns} turns ({open} without an end); {}",
            tally.refused,
            tally.end
        );
        for (turn, count) in &tally.terminals {
            assert_eq!(*count, 1, "turn {turn} ended {count} times");
        }
        totals.sent += tally.sent;
        totals.refused += tally.refused;
        totals.terminals.extend(tally.terminals);
    }
    assert!(
        totals.terminals.len() > SENDERS,
        "turns ran: {}",
        totals.terminals.len()
    );
    let peak = peak_rss_mb(server.pid());
    eprintln!(
        "soak: {} messages, {} turns, {} refused; peak RSS {peak} MiB (budget {BUDGET_MB} MiB)",
        totals.sent,
        totals.terminals.len(),
        totals.refused
    );
    assert!(
        peak < BUDGET_MB,
        "peak RSS {peak} MiB over the {BUDGET_MB} MiB budget"
    );
}
