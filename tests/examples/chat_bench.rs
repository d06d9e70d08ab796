//! Chat figures against the fake Ollama (50 tokens, 20 ms apart): time to first token and
//! total time, straight from Ollama and through the app, for one stream and for 32 streams at
//! once; and what the per-chunk stop check costs (from the app's generation log lines).
//!
//!     cargo run --release -p spin-test-host --example chat_bench [-- RUNS]

use serde_json::{Value, json};
use spin_test_host::bench::{ms, pct};
use spin_test_host::testing::{AppConfig, TestApp, TestUser, spawn_app_with};
use std::time::{Duration, Instant};

const TOKENS: usize = 50;
const DELAY: Duration = Duration::from_millis(20);
const CONCURRENT: usize = 32;

/// (time to first content, total) reading a streamed response; `marker` finds the first
/// token in the bytes (`"content":"tok0` in either format).
async fn timed(resp: reqwest::Response, started: Instant) -> anyhow::Result<(Duration, Duration)> {
    anyhow::ensure!(resp.status() == 200, "status {}", resp.status());
    let mut resp = resp;
    let mut seen = String::new();
    let mut first = None;
    while let Some(chunk) = resp.chunk().await? {
        seen.push_str(&String::from_utf8_lossy(&chunk));
        if first.is_none() && seen.contains("tok0 ") {
            first = Some(started.elapsed());
        }
    }
    anyhow::ensure!(
        seen.contains(&format!("tok{} ", TOKENS - 1)),
        "answer incomplete"
    );
    Ok((first.unwrap_or_default(), started.elapsed()))
}

async fn direct(client: &reqwest::Client, ollama: &str) -> anyhow::Result<(Duration, Duration)> {
    let started = Instant::now();
    let resp = client
        .post(format!("{ollama}/api/chat"))
        .json(&json!({"model": "llama3.2:1b", "messages": [{"role": "user", "content": "hi"}], "stream": true}))
        .send()
        .await?;
    timed(resp, started).await
}

async fn conversation(app: &TestApp, token: &str) -> anyhow::Result<String> {
    let v: Value = app
        .post("/api/conversations")
        .bearer_auth(token)
        .json(&json!({"title": "bench", "model": "llama3.2:1b"}))
        .send()
        .await?
        .json()
        .await?;
    Ok(v["conversation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

async fn through_app(
    client: &reqwest::Client,
    app: &TestApp,
    token: &str,
    id: &str,
) -> anyhow::Result<(Duration, Duration)> {
    let started = Instant::now();
    let resp = client
        .post(app.at(&format!("/api/chat/{id}/messages")))
        .bearer_auth(token)
        .json(&json!({"content": "hi"}))
        .send()
        .await?;
    timed(resp, started).await
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30);
    let app = spawn_app_with(AppConfig {
        variables: vec![("jwt_secret".into(), "bench-secret".into())],
        ..AppConfig::default()
    })
    .await;
    let Some(fake) = &app.ollama else {
        anyhow::bail!("needs the fake Ollama");
    };
    fake.set_tokens(TOKENS);
    fake.set_token_delay(DELAY);
    let ollama = fake.url();
    let client = reqwest::Client::new();
    let user = TestUser::registered(&app).await;
    let id = conversation(&app, &user.access_token).await?;

    // One stream at a time, alternating direct and through the app.
    let (mut d_first, mut d_total, mut a_first, mut a_total) = (vec![], vec![], vec![], vec![]);
    through_app(&client, &app, &user.access_token, &id).await?; // warm the instance
    for _ in 0..runs {
        let (f, t) = direct(&client, &ollama).await?;
        d_first.push(f);
        d_total.push(t);
        let (f, t) = through_app(&client, &app, &user.access_token, &id).await?;
        a_first.push(f);
        a_total.push(t);
    }
    let mut added: Vec<Duration> = a_first
        .iter()
        .zip(&d_first)
        .map(|(a, d)| a.saturating_sub(*d))
        .collect();
    for v in [
        &mut d_first,
        &mut d_total,
        &mut a_first,
        &mut a_total,
        &mut added,
    ] {
        v.sort();
    }

    // The same with a model that takes 20 ms to its first byte (any real one takes longer):
    // the app stores the question while Ollama starts, so only its reads before the call add.
    fake.set_first_byte_delay(Duration::from_millis(20));
    let (mut s_direct, mut s_app) = (vec![], vec![]);
    for _ in 0..runs {
        s_direct.push(direct(&client, &ollama).await?.0);
        s_app.push(through_app(&client, &app, &user.access_token, &id).await?.0);
    }
    let mut s_added: Vec<Duration> = s_app
        .iter()
        .zip(&s_direct)
        .map(|(a, d)| a.saturating_sub(*d))
        .collect();
    s_added.sort();
    fake.set_first_byte_delay(Duration::ZERO);

    // 32 users, one stream each, all at once.
    let mut users = Vec::new();
    for _ in 0..CONCURRENT {
        let u = TestUser::registered(&app).await;
        let c = conversation(&app, &u.access_token).await?;
        users.push((u.access_token, c));
    }
    let started = Instant::now();
    let tasks: Vec<_> = users
        .iter()
        .map(|(t, c)| {
            let (client, app_url, t, c) = (client.clone(), app.at(""), t.clone(), c.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let resp = client
                    .post(format!("{app_url}/api/chat/{c}/messages"))
                    .bearer_auth(&t)
                    .json(&json!({"content": "hi"}))
                    .send()
                    .await?;
                timed(resp, started).await
            })
        })
        .collect();
    let mut c_first = Vec::new();
    let mut c_total = Vec::new();
    for t in tasks {
        let (f, total) = t.await??;
        c_first.push(f);
        c_total.push(total);
    }
    let wall = started.elapsed();
    c_first.sort();
    c_total.sort();

    // The stop check's cost, from the generation log lines.
    let logs = app.component_logs();
    let checks: Vec<f64> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "generation")
        .filter_map(|v| v["stop_check_us"].as_f64())
        .collect();
    let mean_check = checks.iter().sum::<f64>() / checks.len().max(1) as f64;

    println!(
        "chat benchmark (release test host, fake Ollama {TOKENS} tokens × {} ms, {runs} runs)\n",
        DELAY.as_millis()
    );
    println!("{:<44} {:>10} {:>10}", "one stream", "p50", "p90");
    let row = |n: &str, v: &[Duration]| {
        println!("{:<44} {:>10} {:>10}", n, ms(pct(v, 0.5)), ms(pct(v, 0.9)))
    };
    row("time to first token, straight from Ollama", &d_first);
    row("time to first token, through the app", &a_first);
    row("added time to first token", &added);
    row("added, model with a 20 ms first byte", &s_added);
    row("total, straight from Ollama", &d_total);
    row("total, through the app", &a_total);
    println!();
    println!("{CONCURRENT} streams at once (one per user)");
    row("time to first token", &c_first);
    row("total per stream", &c_total);
    println!(
        "{:<44} {:>10}   ({:+.1} % vs one stream through the app, p50)",
        "all done (wall)",
        ms(wall),
        (pct(&c_total, 0.5).as_secs_f64() / pct(&a_total, 0.5).as_secs_f64() - 1.0) * 100.0
    );
    println!();
    println!(
        "stop-flag check: {mean_check:.1} µs per read (mean over {} generations; read every 50 ms)",
        checks.len()
    );
    Ok(())
}
