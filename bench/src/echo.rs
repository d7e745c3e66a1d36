//! The physical-limit baseline: a bare WebSocket echo server (axum, the server's own
//! stack, without any protocol or agent) and a client measuring round trips.

use std::time::Instant;

use axum::{
    Router,
    extract::ws::{Message, WebSocket, WebSocketUpgrade},
    routing::get,
    serve::ListenerExt,
};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;

use crate::stats::{Latencies, report};

#[derive(Debug, clap::Args)]
pub struct Options {
    #[arg(long)]
    url: String,
    /// Round trips to measure, one after another.
    #[arg(long, default_value_t = 20_000)]
    round_trips: usize,
}

/// Serves `/ws`, echoing every text frame, until killed.
pub async fn serve(listen: &str) -> anyhow::Result<Value> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!("echo server on {}", listener.local_addr()?);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = Router::new().route(
        "/ws",
        get(|ws: WebSocketUpgrade| async { ws.on_upgrade(echo) }),
    );
    axum::serve(listener, app).await?;
    Ok(json!({}))
}

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        if let Message::Text(_) = message
            && socket.send(message).await.is_err()
        {
            break;
        }
    }
}

pub async fn run(options: Options) -> anyhow::Result<Value> {
    let (mut socket, _) = tokio_tungstenite::connect_async(&options.url).await?;
    // The size of a typical client message.
    let frame = json!({ "type": "message", "content": "Suma 10 y 5" }).to_string();
    let mut latencies = Latencies::default();
    let started = Instant::now();
    for _ in 0..options.round_trips {
        let began = Instant::now();
        socket
            .send(tungstenite::Message::text(frame.clone()))
            .await?;
        loop {
            match socket.next().await {
                Some(Ok(tungstenite::Message::Text(_))) => break,
                Some(Ok(_)) => continue,
                _ => anyhow::bail!("the echo server went away"),
            }
        }
        latencies.push(began.elapsed());
    }
    let elapsed = started.elapsed();
    Ok(report(
        "echo",
        latencies.len(),
        0,
        elapsed,
        latencies,
        json!({}),
    ))
}
