//! `tools/call` straight to the toolbox, as a stateless MCP 2026-07-28 client sends it.

use std::time::Instant;

use futures::{StreamExt, stream::FuturesUnordered};
use serde_json::{Value, json};

use crate::stats::{Latencies, report};

#[derive(Debug, clap::Args)]
pub struct Options {
    /// The toolbox's MCP endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8000/mcp")]
    url: String,
    /// Concurrent clients, each with its own HTTP connection.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Calls each client makes, one after another.
    #[arg(long, default_value_t = 2000)]
    calls: usize,
}

fn body(id: usize, a: usize, b: usize) -> String {
    json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {
            "name": "add", "arguments": {"a": a, "b": b},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "loadgen", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {}
            }
        }
    })
    .to_string()
}

pub async fn run(options: Options) -> anyhow::Result<Value> {
    let started = Instant::now();
    let mut tasks: FuturesUnordered<_> = (0..options.clients)
        .map(|client| {
            let (url, calls) = (options.url.clone(), options.calls);
            tokio::spawn(async move {
                // One client per task: its own keep-alive connection.
                let http = reqwest::Client::builder().tcp_nodelay(true).build()?;
                let mut latencies = Latencies::default();
                let mut errors = 0usize;
                for call in 0..calls {
                    let began = Instant::now();
                    let response = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("accept", "application/json, text/event-stream")
                        .header("mcp-protocol-version", "2026-07-28")
                        .header("mcp-method", "tools/call")
                        .header("mcp-name", "add")
                        .body(body(call, client, call))
                        .send()
                        .await;
                    let expected = format!("\"text\":\"{}\"", client + call);
                    let ok = match response {
                        Ok(response) if response.status().is_success() => response
                            .text()
                            .await
                            .is_ok_and(|text| text.contains(&expected)),
                        _ => false,
                    };
                    if ok {
                        latencies.push(began.elapsed());
                    } else {
                        errors += 1;
                    }
                }
                anyhow::Ok((latencies, errors))
            })
        })
        .collect();
    let mut latencies = Latencies::default();
    let mut errors = 0;
    while let Some(joined) = tasks.next().await {
        let (client_latencies, client_errors) = joined??;
        latencies.extend(client_latencies);
        errors += client_errors;
    }
    let elapsed = started.elapsed();
    let completed = latencies.len();
    Ok(report(
        "mcp_tools_call",
        completed,
        errors,
        elapsed,
        latencies,
        json!({ "clients": options.clients }),
    ))
}
