//! `POST /api/chat` clients.

use std::time::Instant;

use futures::stream::FuturesUnordered;
use serde_json::{Value, json};

use crate::stats::{Latencies, report};

#[derive(Debug, clap::Args)]
pub struct Options {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    url: String,
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Requests each client makes, one after another.
    #[arg(long, default_value_t = 100)]
    requests: usize,
}

pub async fn run(options: Options) -> anyhow::Result<Value> {
    let started = Instant::now();
    let tasks: FuturesUnordered<_> = (0..options.clients)
        .map(|client| {
            let (url, requests) = (format!("{}/api/chat", options.url), options.requests);
            tokio::spawn(async move {
                let http = reqwest::Client::builder().tcp_nodelay(true).build()?;
                let mut latencies = Latencies::default();
                let mut errors = 0usize;
                for index in 0..requests {
                    let began = Instant::now();
                    let body = json!({ "message": format!("Suma {client} y {index}") });
                    let response = http.post(&url).json(&body).send().await;
                    let expected = (client + index).to_string();
                    let ok = match response {
                        Ok(response) if response.status().is_success() => {
                            response.json::<Value>().await.is_ok_and(|answer| {
                                answer["tool_calls"][0]["result"] == expected.as_str()
                            })
                        }
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
    let (latencies, errors) = Latencies::gather(tasks).await?;
    let elapsed = started.elapsed();
    let completed = latencies.len();
    Ok(report(
        "rest",
        completed,
        errors,
        elapsed,
        latencies,
        json!({ "clients": options.clients }),
    ))
}
