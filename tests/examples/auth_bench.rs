//! Auth figures: login latency (Argon2id dominates it), and authenticated `GET /api/auth/me`
//! throughput at 16 connections, with an access token and with an API key. Traffic stays on
//! 127.0.0.1; every loop is bounded in count and time.
//!
//!     cargo run --release -p spin-test-host --example auth_bench [-- SECONDS]

use spin_test_host::bench::{load, ms, pct};
use spin_test_host::testing::{AppConfig, TestUser, spawn_app_with};
use std::time::Instant;

const CONNECTIONS: usize = 16;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let app = spawn_app_with(AppConfig {
        variables: vec![
            ("jwt_secret".into(), "bench-secret".into()),
            ("login_max_attempts_per_ip".into(), "1000000".into()),
            ("login_max_failures".into(), "1000000".into()),
        ],
        ..AppConfig::default()
    })
    .await;
    let mut user = TestUser::registered(&app).await;

    let mut logins = Vec::new();
    for _ in 0..40 {
        let t = Instant::now();
        user.login(&app).await;
        logins.push(t.elapsed());
    }
    logins.sort();
    let mut unknown = Vec::new();
    for _ in 0..40 {
        let t = Instant::now();
        let r = app
            .post("/api/auth/login")
            .json(&serde_json::json!({"username": "nobody_at_all", "password": "wrong password here"}))
            .send()
            .await?;
        anyhow::ensure!(r.status() == 401);
        unknown.push(t.elapsed());
    }
    unknown.sort();
    let key: serde_json::Value = app
        .post("/api/auth/keys")
        .bearer_auth(&user.access_token)
        .json(&serde_json::json!({"name": "bench"}))
        .send()
        .await?
        .json()
        .await?;
    let key = key["key"].as_str().unwrap_or_default().to_string();

    println!(
        "auth benchmark (release test host, {CONNECTIONS} connections, {seconds} s per load run)\n"
    );
    println!("{:<44} {:>10} {:>10}", "what", "p50", "p90");
    println!(
        "{:<44} {:>10} {:>10}",
        "login, known user (40 sequential)",
        ms(pct(&logins, 0.5)),
        ms(pct(&logins, 0.9))
    );
    println!(
        "{:<44} {:>10} {:>10}",
        "login, unknown user (40 sequential)",
        ms(pct(&unknown, 0.5)),
        ms(pct(&unknown, 0.9))
    );
    println!();
    println!(
        "{:<44} {:>10} {:>10} {:>10}",
        "GET /api/auth/me", "req/s", "p50", "p99"
    );
    for (name, token) in [
        ("access token", user.access_token.clone()),
        ("API key", key),
    ] {
        let (rps, times) = load(app.at("/api/auth/me"), token, CONNECTIONS, seconds).await?;
        println!(
            "{:<44} {:>10.0} {:>10} {:>10}",
            format!("  with {name}"),
            rps,
            ms(pct(&times, 0.5)),
            ms(pct(&times, 0.99))
        );
    }
    Ok(())
}
