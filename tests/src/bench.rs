//! What the benchmark binaries (`tests/examples/*_bench.rs`) share: percentiles, formatting and
//! a bounded load loop.

use std::time::{Duration, Instant};

/// The `p` percentile of sorted durations.
pub fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1))]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// `GET url` with a bearer token from `connections` clients for `seconds` (and at most 200,000
/// requests each); every answer must be `200`. Returns requests/second and sorted latencies.
pub async fn load(
    url: String,
    token: String,
    connections: usize,
    seconds: u64,
) -> anyhow::Result<(f64, Vec<Duration>)> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            tokio::spawn(async move {
                let mut times = Vec::new();
                while Instant::now() < deadline && times.len() < 200_000 {
                    let t = Instant::now();
                    let r = client.get(&url).bearer_auth(&token).send().await?;
                    anyhow::ensure!(r.status() == 200, "status {}", r.status());
                    r.bytes().await?;
                    times.push(t.elapsed());
                }
                anyhow::Ok(times)
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let rps = all.len() as f64 / started.elapsed().as_secs_f64();
    all.sort();
    Ok((rps, all))
}
