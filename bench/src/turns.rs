//! WebSocket clients running agent turns, and idle connections.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt, stream::FuturesUnordered};
use protocol::{ServerEvent, ServerFrame};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

use crate::{
    rss_kib,
    stats::{Latencies, report},
};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Debug, clap::Args)]
pub struct Options {
    /// The server's WebSocket URL; repeat it for several servers sharing sessions
    /// (clients are spread over them in turn).
    #[arg(long, default_value = "ws://127.0.0.1:8000/ws")]
    url: Vec<String>,
    /// Concurrent clients, each with its own connection.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Turns each client runs, one after another.
    #[arg(long, default_value_t = 100)]
    turns: usize,
    /// Chained requests (two tool calls per turn) instead of single ones.
    #[arg(long)]
    chained: bool,
    /// Turns per second each client sends, on a fixed schedule (open loop), instead of
    /// one after another as fast as possible. Latency then counts from the scheduled
    /// time, so a server that falls behind cannot hide it.
    #[arg(long)]
    rate: Option<f64>,
    /// The server's process id, to report its memory.
    #[arg(long)]
    server_pid: Option<u32>,
}

#[derive(Debug, clap::Args)]
pub struct IdleOptions {
    #[arg(long, default_value = "ws://127.0.0.1:8000/ws")]
    url: String,
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// The server's process id (required: memory is the point).
    #[arg(long)]
    server_pid: u32,
}

async fn connect(url: &str) -> anyhow::Result<Socket> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    // The server greets every connection with `ready`.
    match next_event(&mut socket).await? {
        ServerEvent::Ready { .. } => Ok(socket),
        other => anyhow::bail!("expected ready, got {other:?}"),
    }
}

async fn next_event(socket: &mut Socket) -> anyhow::Result<ServerEvent> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                return Ok(serde_json::from_str::<ServerFrame>(&text)?.event);
            }
            Some(Ok(Message::Close(frame))) => anyhow::bail!("closed: {frame:?}"),
            Some(Ok(_)) => continue,
            Some(Err(error)) => return Err(error.into()),
            None => anyhow::bail!("connection ended"),
        }
    }
}

/// Runs one turn and checks its events: the exact sequence and the right result.
async fn turn(
    socket: &mut Socket,
    client: usize,
    index: usize,
    chained: bool,
) -> anyhow::Result<()> {
    let (text, expected, kinds): (String, String, &[&str]) = if chained {
        (
            format!("({client} + {index}) * 2"),
            ((client + index) * 2).to_string(),
            &[
                "start",
                "step",
                "tool_call",
                "tool_result",
                "tool_call",
                "tool_result",
                "response",
                "complete",
            ],
        )
    } else {
        (
            format!("Suma {client} y {index}"),
            (client + index).to_string(),
            &[
                "start",
                "step",
                "tool_call",
                "tool_result",
                "response",
                "complete",
            ],
        )
    };
    let frame = json!({ "type": "message", "content": text }).to_string();
    socket.send(Message::text(frame)).await?;
    let mut last_result = None;
    for (position, want) in kinds.iter().enumerate() {
        let event = next_event(socket).await?;
        if event.kind() != *want {
            anyhow::bail!("event {position} was {event:?}, expected {want}");
        }
        if let ServerEvent::ToolResult { result, .. } = event {
            last_result = Some(result);
        }
    }
    if last_result.as_deref() != Some(expected.as_str()) {
        anyhow::bail!("result {last_result:?}, expected {expected}");
    }
    Ok(())
}

pub async fn run(options: Options) -> anyhow::Result<Value> {
    let rss_before = options.server_pid.and_then(rss_kib);
    // Connect everyone first, so the measured time is turns only.
    let mut sockets = Vec::with_capacity(options.clients);
    for client in 0..options.clients {
        sockets.push(connect(&options.url[client % options.url.len()]).await?);
    }
    let started = Instant::now();
    let tasks: FuturesUnordered<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(client, mut socket)| {
            let url = options.url[client % options.url.len()].clone();
            let (turns, chained) = (options.turns, options.chained);
            let interval = options.rate.map(|rate| Duration::from_secs_f64(1.0 / rate));
            // Paced clients start spread over one interval, not all at once.
            let phase = interval.map(|i| i.mul_f64(client as f64 / options.clients as f64));
            tokio::spawn(async move {
                let mut latencies = Latencies::default();
                let mut errors = 0usize;
                let schedule = Instant::now() + phase.unwrap_or_default();
                for index in 0..turns {
                    let began = match interval {
                        Some(interval) => {
                            let due = schedule + interval * index as u32;
                            tokio::time::sleep_until(due.into()).await;
                            due
                        }
                        None => Instant::now(),
                    };
                    match turn(&mut socket, client, index, chained).await {
                        Ok(()) => latencies.push(began.elapsed()),
                        Err(error) => {
                            errors += 1;
                            if errors == 1 {
                                eprintln!("client {client} turn {index}: {error}");
                            }
                            // The connection may be unusable: reconnect.
                            match tokio::time::timeout(Duration::from_secs(5), connect(&url)).await
                            {
                                Ok(Ok(fresh)) => socket = fresh,
                                _ => return Ok((latencies, errors + (turns - index - 1))),
                            }
                        }
                    }
                }
                let _ = socket.close(None).await;
                Ok((latencies, errors))
            })
        })
        .collect();
    let (latencies, errors) = Latencies::gather(tasks).await?;
    let elapsed = started.elapsed();
    let rss_after = options.server_pid.and_then(rss_kib);
    let completed = latencies.len();
    Ok(report(
        if options.chained {
            "turns_chained"
        } else {
            "turns"
        },
        completed,
        errors,
        elapsed,
        latencies,
        json!({
            "clients": options.clients,
            "turns_per_client": options.turns,
            "rate_per_client": options.rate,
            "server_rss_before_kib": rss_before,
            "server_rss_after_kib": rss_after,
        }),
    ))
}

pub async fn idle(options: IdleOptions) -> anyhow::Result<Value> {
    let pid = options.server_pid;
    let settle = || tokio::time::sleep(Duration::from_millis(500));
    settle().await;
    let before = rss_kib(pid).ok_or_else(|| anyhow::anyhow!("no process {pid}"))?;
    let started = Instant::now();
    let mut sockets = Vec::with_capacity(options.connections);
    let mut errors = 0;
    // Open in batches: the server sees a realistic arrival, not one burst.
    for batch in 0..options.connections.div_ceil(250) {
        let count = 250.min(options.connections - batch * 250);
        let opened: Vec<_> =
            futures::future::join_all((0..count).map(|_| connect(&options.url))).await;
        for socket in opened {
            match socket {
                Ok(socket) => sockets.push(socket),
                Err(_) => errors += 1,
            }
        }
    }
    let elapsed = started.elapsed();
    settle().await;
    let after = rss_kib(pid).unwrap_or(before);
    let open = sockets.len();
    let per_connection = (after.saturating_sub(before)) as f64 / open.max(1) as f64;
    // Still alive and serving? One turn on the last connection proves it.
    let alive = match sockets.last_mut() {
        Some(socket) => turn(socket, 1, 2, false).await.is_ok(),
        None => false,
    };
    for mut socket in sockets {
        let _ = socket.close(None).await;
    }
    Ok(report(
        "idle",
        open,
        errors,
        elapsed,
        Latencies::default(),
        json!({
            "server_rss_before_kib": before,
            "server_rss_after_kib": after,
            "kib_per_connection": (per_connection * 10.0).round() / 10.0,
            "still_serving": alive,
        }),
    ))
}
