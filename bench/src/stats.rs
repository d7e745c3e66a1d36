//! Latency percentiles and the JSON report of a run.

use std::time::Duration;

use futures::{StreamExt, stream::FuturesUnordered};
use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;

/// Latencies of every completed operation of a run.
#[derive(Debug, Default)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    /// Waits for every client task and merges their latencies and error counts.
    pub async fn gather(
        mut clients: FuturesUnordered<JoinHandle<anyhow::Result<(Latencies, usize)>>>,
    ) -> anyhow::Result<(Latencies, usize)> {
        let mut latencies = Latencies::default();
        let mut errors = 0;
        while let Some(joined) = clients.next().await {
            let (client_latencies, client_errors) = joined??;
            latencies.extend(client_latencies);
            errors += client_errors;
        }
        Ok((latencies, errors))
    }

    pub fn push(&mut self, latency: Duration) {
        self.0.push(latency);
    }

    pub fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `p50_us`, `p90_us`, `p99_us`, `max_us`, `mean_us`.
    pub fn summary(mut self) -> Map<String, Value> {
        let mut map = Map::new();
        if self.0.is_empty() {
            return map;
        }
        self.0.sort_unstable();
        let at = |q: f64| {
            let index = ((self.0.len() as f64 * q).ceil() as usize).clamp(1, self.0.len()) - 1;
            self.0[index].as_micros() as u64
        };
        let mean = self.0.iter().map(Duration::as_micros).sum::<u128>() / self.0.len() as u128;
        map.insert("p50_us".into(), json!(at(0.50)));
        map.insert("p90_us".into(), json!(at(0.90)));
        map.insert("p99_us".into(), json!(at(0.99)));
        map.insert("max_us".into(), json!(at(1.0)));
        map.insert("mean_us".into(), json!(mean as u64));
        map
    }
}

/// The report of one run: counts, rate and latency percentiles, plus `extra` fields.
pub fn report(
    scenario: &str,
    completed: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Latencies,
    extra: Value,
) -> Value {
    let mut map = Map::new();
    map.insert("scenario".into(), json!(scenario));
    map.insert("completed".into(), json!(completed));
    map.insert("errors".into(), json!(errors));
    map.insert("elapsed_s".into(), json!(elapsed.as_secs_f64()));
    map.insert(
        "per_sec".into(),
        json!((completed as f64 / elapsed.as_secs_f64()).round()),
    );
    map.extend(latencies.summary());
    if let Value::Object(extra) = extra {
        map.extend(extra);
    }
    Value::Object(map)
}
