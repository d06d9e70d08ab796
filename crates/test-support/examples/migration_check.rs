//! What the schema check costs per request, with Spin's instance reuse and with a fresh
//! instance per request. Uses `/metrics`, which opens the database (so runs the check) and
//! one query of its own.
//!
//!     cargo run --release -p test-support --example migration_check [-- REQUESTS]

use spin_test_host::ReuseConfig;
use std::time::{Duration, Instant};
use test_support::testing::{AppConfig, spawn_app_with};

const CHECK: &str = "SELECT version, checksum FROM schema_migrations";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    println!("{n} sequential GET /metrics per mode\n");
    println!(
        "{:<28} {:>14} {:>16} {:>14} {:>12}",
        "mode", "checks/request", "µs per check", "p50 request", "p90 request"
    );
    for (name, reuse) in [
        ("reuse (Spin default)", ReuseConfig::default()),
        (
            "fresh instance per request",
            ReuseConfig::one_request_per_instance(),
        ),
    ] {
        let app = spawn_app_with(AppConfig {
            reuse: Some(reuse),
            variables: vec![("metrics_token".into(), "bench-token".into())],
            ..AppConfig::default()
        })
        .await;
        let stores = app.app.as_ref().map(|a| a.stores.clone());
        // Warm up: first request applies the migrations.
        app.get("/metrics")
            .bearer_auth("bench-token")
            .send()
            .await?;
        if let Some(s) = &stores {
            s.query_stats().reset();
        }
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let r = app
                .get("/metrics")
                .bearer_auth("bench-token")
                .send()
                .await?;
            anyhow::ensure!(r.status() == 200, "status {}", r.status());
            r.bytes().await?;
            times.push(t.elapsed());
        }
        times.sort();
        let stats = stores
            .map(|s| s.query_stats().snapshot())
            .unwrap_or_default();
        let check = stats.get(CHECK).copied().unwrap_or_default();
        let per_check = if check.count > 0 {
            check.total.as_secs_f64() * 1e6 / check.count as f64
        } else {
            0.0
        };
        let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
        println!(
            "{:<28} {:>14.3} {:>16.1} {:>14} {:>12}",
            name,
            check.count as f64 / n as f64,
            per_check,
            ms(pct(0.5)),
            ms(pct(0.9))
        );
    }
    Ok(())
}
