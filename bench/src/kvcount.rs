//! `--kv-count`: what counting one request costs, the app's way (its rate-limit upsert on the
//! database) against the key-value store's atomic increment (`wasi:keyvalue/atomics`), on
//! Spin's default key-value store (a SQLite file) and on Redis. It serves the probe component
//! (bench/probe: one route per way, nothing else) in the test host, and for each store and
//! way measures requests one after another, 16 connections on one key, and whether
//! concurrent counts add up exactly.

use crate::client::App;
use crate::host::Side;
use crate::report::{ms, pct};
use crate::runs::{load_of, rate, sequential};
use anyhow::{Context, Result, ensure};
use test_support::redis_server::RedisServer;
use test_support::testing;

const SEQUENTIAL: usize = 400;
const WRITERS: usize = 16;
const EACH: usize = 50;

pub async fn run(seconds: u64) -> Result<()> {
    let probe = testing::workspace_dir().join("bench/probe/spin.toml");
    spin_test_host::build::build_components(&probe)?;
    let (dir, config) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let redis = RedisServer::start().await?.context(
        "--kv-count needs redis-server installed (Debian: apt-get install redis-server)",
    )?;
    let redis_config = redis.runtime_config_file(config.path())?;
    let manifest = format!("BENCH_PROBE=1,manifest={}", probe.display());
    let sides = [
        ("Spin's default (SQLite file)", manifest.clone()),
        (
            "Redis",
            format!("{manifest},runtime_config={}", redis_config.display()),
        ),
    ];
    println!(
        "| key-value store | way of counting | {SEQUENTIAL} one after another | 16 connections, one key, {seconds} s | {WRITERS}×{EACH} at once: counted |"
    );
    println!("|---|---|---|---|---|");
    for (label, vars) in sides {
        let side = Side::start_ready_at(&vars, "http://127.0.0.1:9", dir.path(), "/none").await?;
        let app = App::new(&side.url)?;
        for way in ["none", "upsert", "increment"] {
            let key = format!("seq-{}", std::process::id());
            let seq = sequential(&app, None, &format!("/{way}?key={key}"), SEQUENTIAL).await?;
            let load = load_of(
                &app,
                &format!("/{way}?key=hot"),
                "-",
                seconds,
                Some(side.pid),
            )
            .await?;
            let exact = if way == "none" {
                "-".to_string()
            } else {
                let (want, got) = concurrent(&app, way).await?;
                format!("{got} of {want}")
            };
            println!(
                "| {label} | {way} | p50 {}, p99 {} | {} | {exact} |",
                ms(pct(&seq, 0.5)),
                ms(pct(&seq, 0.99)),
                rate(&load),
            );
        }
    }
    Ok(())
}

/// `WRITERS` clients count `EACH` times under one fresh key at once; then one more count
/// reads where the counter stands. `(expected, counted)`.
async fn concurrent(app: &App, way: &str) -> Result<(usize, i64)> {
    let key = format!("exact-{way}-{}", std::process::id());
    let url = app.at(&format!("/{way}?key={key}"));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (http, url) = (app.http.clone(), url.clone());
            tokio::spawn(async move {
                for _ in 0..EACH {
                    let r = http.get(&url).send().await?;
                    ensure!(r.status() == 200, "status {}", r.status());
                    r.bytes().await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let last: i64 = app
        .http
        .get(&url)
        .send()
        .await?
        .text()
        .await?
        .trim()
        .parse()?;
    Ok((WRITERS * EACH + 1, last))
}
