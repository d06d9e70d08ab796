//! Conversations figures: the list's first page at 100 and at 10,000 conversations, full-text
//! search over 100,000 messages, and list throughput at 16 connections. Data is seeded through
//! `POST /api/conversations/import` (so its time is reported too). Traffic stays on 127.0.0.1;
//! every loop is bounded in count and time.
//!
//!     cargo run --release -p spin-test-host --example conversations_bench [-- SECONDS]

use serde_json::{Value, json};
use spin_test_host::bench::{load, ms, pct};
use spin_test_host::testing::{AppConfig, TestApp, TestUser, spawn_app_with};
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 16;
const SAMPLES: usize = 200;

/// A small deterministic generator (xorshift), so every run seeds the same text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Zipf-like word choice: low ranks are common, as in real text.
    fn word<'a>(&mut self, words: &'a [String]) -> &'a str {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        let rank = ((words.len() as f64).powf(u) as usize).saturating_sub(1);
        &words[rank.min(words.len() - 1)]
    }
}

fn vocabulary() -> Vec<String> {
    let syllables = [
        "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qua", "dor", "fen", "gil",
        "hob", "jun",
    ];
    let mut words = Vec::new();
    for a in syllables {
        for b in syllables {
            for c in ["", "n", "s", "ter", "ma"] {
                words.push(format!("{a}{b}{c}"));
            }
        }
    }
    words
}

fn message(rng: &mut Rng, words: &[String]) -> String {
    let n = 8 + (rng.next() % 25) as usize;
    (0..n)
        .map(|_| rng.word(words))
        .collect::<Vec<_>>()
        .join(" ")
}

async fn import(app: &TestApp, token: &str, conversations: Vec<Value>) -> anyhow::Result<()> {
    let r = app
        .post("/api/conversations/import")
        .bearer_auth(token)
        .json(&json!({ "conversations": conversations }))
        .send()
        .await?;
    anyhow::ensure!(
        r.status() == 201,
        "import: {} {}",
        r.status(),
        r.text().await?
    );
    Ok(())
}

/// A user with `n` conversations of `per` messages each, imported in batches.
async fn seeded_user(
    app: &TestApp,
    n: usize,
    per: usize,
    rng: &mut Rng,
    words: &[String],
) -> anyhow::Result<(TestUser, Duration)> {
    let user = TestUser::registered(app).await;
    let started = Instant::now();
    let batch = (5_000 / per.max(1)).clamp(1, 2_000);
    let mut left = n;
    while left > 0 {
        let k = left.min(batch);
        let convs: Vec<Value> = (0..k)
            .map(|_| {
                let title = format!("{} {}", rng.word(words), rng.word(words));
                let messages: Vec<Value> = (0..per)
                    .map(|i| {
                        let role = if i % 2 == 0 { "user" } else { "assistant" };
                        json!({"role": role, "content": message(rng, words)})
                    })
                    .collect();
                json!({"title": title, "tags": [format!("t{}", rng.next() % 20)], "messages": messages})
            })
            .collect();
        import(app, &user.access_token, convs).await?;
        left -= k;
    }
    Ok((user, started.elapsed()))
}

async fn sequential(app: &TestApp, token: &str, path: &str) -> anyhow::Result<Vec<Duration>> {
    let client = reqwest::Client::new();
    let mut times = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let t = Instant::now();
        let r = client.get(app.at(path)).bearer_auth(token).send().await?;
        anyhow::ensure!(r.status() == 200, "{path}: {}", r.status());
        r.bytes().await?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok(times)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let app = spawn_app_with(AppConfig {
        variables: vec![("jwt_secret".into(), "bench-secret".into())],
        ..AppConfig::default()
    })
    .await;
    let words = vocabulary();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

    let (small, t_small) = seeded_user(&app, 100, 2, &mut rng, &words).await?;
    let (large, t_large) = seeded_user(&app, 10_000, 2, &mut rng, &words).await?;
    let (searcher, t_search) = seeded_user(&app, 1_000, 100, &mut rng, &words).await?;

    println!(
        "conversations benchmark (release test host, {SAMPLES} sequential requests per row)\n"
    );
    println!("seeding through import:");
    println!("  100 conversations × 2 messages      {:>10}", ms(t_small));
    println!("  10,000 conversations × 2 messages   {:>10}", ms(t_large));
    println!("  1,000 conversations × 100 messages  {:>10}", ms(t_search));
    println!();
    println!(
        "{:<52} {:>10} {:>10} {:>10}",
        "request", "p50", "p90", "p99"
    );
    let row = |name: &str, t: &[Duration]| {
        println!(
            "{:<52} {:>10} {:>10} {:>10}",
            name,
            ms(pct(t, 0.5)),
            ms(pct(t, 0.9)),
            ms(pct(t, 0.99))
        );
    };
    let first = "/api/conversations?limit=20";
    row(
        "list, first page, 100 conversations",
        &sequential(&app, &small.access_token, first).await?,
    );
    row(
        "list, first page, 10,000 conversations",
        &sequential(&app, &large.access_token, first).await?,
    );
    row(
        "list, ?tag=t3, 10,000 conversations",
        &sequential(&app, &large.access_token, "/api/conversations?tag=t3").await?,
    );
    // A page deep in the list costs the same as the first (keyset, not offset).
    let mut cursor = String::new();
    for _ in 0..50 {
        let r: Value = reqwest::Client::new()
            .get(app.at(&format!("/api/conversations?limit=100{cursor}")))
            .bearer_auth(&large.access_token)
            .send()
            .await?
            .json()
            .await?;
        cursor = format!("&cursor={}", r["next_cursor"].as_str().unwrap_or_default());
    }
    row(
        "list, page after 5,000 items, 10,000 conversations",
        &sequential(&app, &large.access_token, &format!("{first}{cursor}")).await?,
    );
    let common = words[0].clone();
    let middling = words[40].clone();
    let rare = words[700].clone();
    for (name, q) in [
        (format!("search, common word ({common})"), common.clone()),
        (
            format!("search, middling word ({middling})"),
            middling.clone(),
        ),
        (format!("search, rare word ({rare})"), rare.clone()),
        (
            format!("search, two words ({common} {middling})"),
            format!("{common}%20{middling}"),
        ),
    ] {
        let t = sequential(
            &app,
            &searcher.access_token,
            &format!("/api/conversations?q={q}"),
        )
        .await?;
        row(&format!("{name}, 100,000 messages"), &t);
    }
    println!();
    println!(
        "{:<52} {:>10} {:>10} {:>10}",
        format!("{CONNECTIONS} connections, {seconds} s"),
        "req/s",
        "p50",
        "p99"
    );
    for (name, token) in [
        ("list, first page, 100 conversations", &small.access_token),
        (
            "list, first page, 10,000 conversations",
            &large.access_token,
        ),
    ] {
        let (rps, t) = load(app.at(first), token.clone(), CONNECTIONS, seconds).await?;
        println!(
            "{:<52} {:>10.0} {:>10} {:>10}",
            name,
            rps,
            ms(pct(&t, 0.5)),
            ms(pct(&t, 0.99))
        );
    }
    Ok(())
}
