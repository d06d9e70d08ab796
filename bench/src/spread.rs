//! `--spread`: several Ollama servers under load. An app with one fake server, then one with
//! two equal ones; on each, single streams for the baseline, then bursts of 32 streams at
//! once. While a burst runs the admin view (`GET /api/admin/ollama`) is read for each server's
//! answers in flight, and each stream's total is compared with one stream's.

use crate::client::App;
use crate::host::{Fake, Side};
use crate::report::{ms, pct};
use crate::runs::{Via, through_app};
use anyhow::{Result, ensure};
use serde_json::Value;
use std::time::Duration;

const STREAMS: usize = 32;
const BURSTS: usize = 3;

pub async fn run() -> Result<()> {
    test_support::testing::ensure_built()?;
    let (a, b) = (
        Fake::start("127.0.0.1:0").await?,
        Fake::start("127.0.0.1:0").await?,
    );
    let cache = tempfile::tempdir()?;
    let two = format!("ollama_urls={};{},ollama_url_two={}", a.url, b.url, b.url);
    println!(
        "| servers | one stream alone: total | {STREAMS} streams at once ({BURSTS} bursts): total per stream | answers in flight per server, mid-burst (admin view) |"
    );
    println!("|---|---|---|---|");
    for (label, vars) in [("one", "ollama_urls="), ("two equal", two.as_str())] {
        let side = Side::start(vars, &a.url, cache.path()).await?;
        let (alone, totals, shares) = measure(&App::new(&side.url)?).await?;
        let over = pct(&totals, 0.5).as_secs_f64() / pct(&alone, 0.5).as_secs_f64() - 1.0;
        let shares: Vec<String> = shares.iter().map(|s| format!("{s:?}")).collect();
        println!(
            "| {label} | p50 {} | p50 {} ({:+.1} % vs one stream) | {} |",
            ms(pct(&alone, 0.5)),
            ms(pct(&totals, 0.5)),
            over * 100.0,
            shares.join(" / ")
        );
    }
    Ok(())
}

type Measured = (Vec<Duration>, Vec<Duration>, Vec<Vec<i64>>);

/// Totals of single streams, then of streams in bursts, and each server's share mid-burst.
async fn measure(app: &App) -> Result<Measured> {
    let admin = app.user().await?; // the first user is the admin
    let id = app.conversation(&admin.token).await?;
    let mut alone = Vec::new();
    for _ in 0..10 {
        alone.push(through_app(app, &admin.token, &id, Via::Native).await?.1);
    }
    let mut users = Vec::new();
    for _ in 0..STREAMS {
        let u = app.user().await?;
        let c = app.conversation(&u.token).await?;
        users.push((u.token, c));
    }
    let (mut totals, mut shares) = (Vec::new(), Vec::new());
    for _ in 0..BURSTS {
        let tasks: Vec<_> = users
            .iter()
            .cloned()
            .map(|(token, c)| {
                let app = app.clone();
                tokio::spawn(async move { through_app(&app, &token, &c, Via::Native).await })
            })
            .collect();
        // Mid-answer (a stream takes about a second): every answer has begun.
        tokio::time::sleep(Duration::from_millis(500)).await;
        shares.push(running(app, &admin.token).await?);
        for t in tasks {
            totals.push(t.await??.1);
        }
    }
    alone.sort();
    totals.sort();
    Ok((alone, totals, shares))
}

/// `running` of each server in the admin view.
async fn running(app: &App, token: &str) -> Result<Vec<i64>> {
    let resp = app
        .http
        .get(app.at("/api/admin/ollama"))
        .bearer_auth(token)
        .send()
        .await?;
    ensure!(resp.status() == 200, "admin view: {}", resp.status());
    let v: Value = resp.json().await?;
    Ok(v["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| s["running"].as_i64().unwrap_or(-1))
                .collect()
        })
        .unwrap_or_default())
}
