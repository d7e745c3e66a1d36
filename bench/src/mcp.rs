//! `tools/call` straight to the toolbox, as a stateless MCP 2026-07-28 client sends it.

use std::time::Instant;

use futures::stream::FuturesUnordered;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::stats::{Latencies, report};

#[derive(Debug, clap::Args)]
pub struct Options {
    /// The toolbox's MCP endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8000/mcp")]
    url: String,
    /// Concurrent clients, each with its own keep-alive HTTP connection.
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

/// One keep-alive HTTP/1.1 connection, written and read by hand: the client side of
/// this scenario should cost as little as possible, like wrk's.
struct Connection {
    stream: tokio::net::TcpStream,
    host: String,
    path: String,
    buffer: Vec<u8>,
}

impl Connection {
    async fn open(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow::anyhow!("only http:// URLs"))?;
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let stream = tokio::net::TcpStream::connect(host).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            host: host.to_owned(),
            path: format!("/{path}"),
            buffer: Vec::with_capacity(4096),
        })
    }

    /// Sends one `tools/call` and returns the response body.
    async fn call(&mut self, body: &str) -> anyhow::Result<String> {
        let request = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\nMcp-Protocol-Version: 2026-07-28\r\n\
             Mcp-Method: tools/call\r\nMcp-Name: add\r\nContent-Length: {}\r\n\r\n{}",
            self.path,
            self.host,
            body.len(),
            body
        );
        self.stream.write_all(request.as_bytes()).await?;
        self.buffer.clear();
        loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buffer[..end])?;
                if !head.starts_with("HTTP/1.1 200") {
                    anyhow::bail!("{}", head.lines().next().unwrap_or_default());
                }
                let length: usize = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .ok_or_else(|| anyhow::anyhow!("no content-length"))?;
                let total = end + 4 + length;
                while self.buffer.len() < total {
                    self.read_more().await?;
                }
                return Ok(String::from_utf8_lossy(&self.buffer[end + 4..total]).into_owned());
            }
            self.read_more().await?;
        }
    }

    async fn read_more(&mut self) -> anyhow::Result<()> {
        let mut chunk = [0u8; 4096];
        let read = self.stream.read(&mut chunk).await?;
        if read == 0 {
            anyhow::bail!("connection closed");
        }
        self.buffer.extend_from_slice(&chunk[..read]);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub async fn run(options: Options) -> anyhow::Result<Value> {
    let started = Instant::now();
    let tasks: FuturesUnordered<_> = (0..options.clients)
        .map(|client| {
            let (url, calls) = (options.url.clone(), options.calls);
            tokio::spawn(async move {
                let mut connection = Connection::open(&url).await?;
                let mut latencies = Latencies::default();
                let mut errors = 0usize;
                for call in 0..calls {
                    let began = Instant::now();
                    let expected = format!("\"text\":\"{}\"", client + call);
                    match connection.call(&body(call, client, call)).await {
                        Ok(response) if response.contains(&expected) => {
                            latencies.push(began.elapsed());
                        }
                        Ok(_) => errors += 1,
                        Err(_) => {
                            errors += 1;
                            connection = Connection::open(&url).await?;
                        }
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
        "mcp_tools_call",
        completed,
        errors,
        elapsed,
        latencies,
        json!({ "clients": options.clients }),
    ))
}
