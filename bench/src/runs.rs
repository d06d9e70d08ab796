//! The measurements: each adds its rows to the report.

use crate::Options;
use crate::client::App;
use crate::fake_stream::TOKENS;
use crate::host::Fake;
use crate::report::{Report, ms, pct};
use crate::seed::{self, Rng};
use anyhow::{Result, ensure};
use serde_json::json;
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 16;
const SEQUENTIAL: usize = 200;
const LOGINS: usize = 40;
const CONCURRENT_STREAMS: usize = 32;
const BURSTS: usize = 3;

/// `GET path` with a token from `CONNECTIONS` clients for `seconds` (at most 200,000 requests
/// each); every answer must be 200. Requests/second and sorted latencies.
pub async fn load(app: &App, path: &str, token: &str, seconds: u64) -> Result<Load> {
    load_of(app, path, token, seconds, crate::host::host_pid()).await
}

/// [`load`], reporting the CPU time of process `pid` (the app's host).
pub async fn load_of(
    app: &App,
    path: &str,
    token: &str,
    seconds: u64,
    pid: Option<u32>,
) -> Result<Load> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let cpu = || pid.and_then(crate::host::host_cpu);
    let cpu_before = cpu();
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (http, url, token) = (app.http.clone(), app.at(path), token.to_string());
            tokio::spawn(async move {
                let mut times = Vec::new();
                while Instant::now() < deadline && times.len() < 200_000 {
                    let t = Instant::now();
                    let r = http.get(&url).bearer_auth(&token).send().await?;
                    ensure!(r.status() == 200, "status {}", r.status());
                    r.bytes().await?;
                    times.push(t.elapsed());
                }
                Ok(times)
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let rps = all.len() as f64 / started.elapsed().as_secs_f64();
    // The host's CPU time per request: what a change costs, steadier than throughput on a
    // shared machine (the load generator and the app share its cores).
    let cpu_per_request = match (cpu_before, cpu()) {
        (Some(a), Some(b)) if !all.is_empty() => Some(b.saturating_sub(a) / all.len() as u32),
        _ => None,
    };
    all.sort();
    Ok(Load {
        rps,
        times: all,
        cpu_per_request,
    })
}

pub struct Load {
    pub rps: f64,
    pub times: Vec<Duration>,
    pub cpu_per_request: Option<Duration>,
}

/// `SEQUENTIAL` requests one after another; sorted latencies.
/// Latencies of `n` `GET path` one after another (as `token`'s user, or signed out), sorted.
pub async fn sequential(
    app: &App,
    token: Option<&str>,
    path: &str,
    n: usize,
) -> Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let mut req = app.http.get(app.at(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let r = req.send().await?;
        ensure!(r.status() == 200, "{path}: {}", r.status());
        r.bytes().await?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok(times)
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "N req/s, p50, p99, host CPU" of a load run.
pub fn rate(load: &Load) -> String {
    let t = &load.times;
    let cpu = load
        .cpu_per_request
        .map(|c| format!(", host CPU {:.0} µs/request", c.as_secs_f64() * 1e6))
        .unwrap_or_default();
    format!(
        "{:.0} req/s, p50 {}, p99 {}{cpu}",
        load.rps,
        ms(pct(t, 0.5)),
        ms(pct(t, 0.99))
    )
}

pub async fn auth(app: &App, o: &Options, report: &mut Report) -> Result<()> {
    report.section("auth");
    let user = app.user().await?;
    let mut logins = Vec::with_capacity(LOGINS);
    for _ in 0..LOGINS {
        let t = Instant::now();
        app.login(&user).await?;
        logins.push(t.elapsed());
    }
    logins.sort();
    report.row(
        format!("login ({LOGINS} sequential; Argon2id m=19 MiB t=2)"),
        format!(
            "p50 {}, p90 {}",
            ms(pct(&logins, 0.5)),
            ms(pct(&logins, 0.9))
        ),
    );
    let me = load(app, "/api/auth/me", &user.token, o.seconds).await?;
    report.row(
        format!(
            "`GET /api/auth/me`, {CONNECTIONS} connections, {} s",
            o.seconds
        ),
        rate(&me),
    );
    Ok(())
}

pub async fn conversations(app: &App, o: &Options, report: &mut Report) -> Result<()> {
    report.section("conversations");
    let words = seed::vocabulary();
    let mut rng = Rng::default();
    let (small, t_small) = seed::user_with(app, 100, 2, &mut rng, &words).await?;
    let (large, t_large) = seed::user_with(app, 10_000, 2, &mut rng, &words).await?;
    let per = 100;
    let (searcher, t_search) =
        seed::user_with(app, o.search_messages / per, per, &mut rng, &words).await?;
    report.row(
        "seeding by import: 100 / 10,000 conversations",
        format!("{} / {}", ms(t_small), ms(t_large)),
    );
    report.row(
        format!(
            "seeding by import: {} messages",
            thousands(o.search_messages)
        ),
        ms(t_search),
    );

    // `/health` first, in the same run: the same pipeline without a store, so the list's
    // figure reads as what the stores add (issue 17: under Spin the list served a fifth).
    let health = load(app, "/health", &small.token, o.seconds).await?;
    report.row(
        format!(
            "`GET /health` (the pipeline, no store), {CONNECTIONS} connections, {} s",
            o.seconds
        ),
        rate(&health),
    );
    let first = "/api/conversations?limit=20";
    let list = load(app, first, &small.token, o.seconds).await?;
    report.check(
        format!(
            "`GET /api/conversations` first page, {CONNECTIONS} connections, {} s",
            o.seconds
        ),
        rate(&list),
        "≥ 4,000 req/s, p99 ≤ 20 ms",
        list.rps >= 4000.0 && pct(&list.times, 0.99) <= Duration::from_millis(20),
    );
    let at_100 = pct(
        &sequential(app, Some(&small.token), first, SEQUENTIAL).await?,
        0.5,
    );
    let at_10k = pct(
        &sequential(app, Some(&large.token), first, SEQUENTIAL).await?,
        0.5,
    );
    report.row("list first page p50, 100 conversations", ms(at_100));
    let ratio = at_10k.as_secs_f64() / at_100.as_secs_f64().max(1e-9);
    report.check(
        "list first page p50, 10,000 conversations",
        format!("{} ({ratio:.2}× the time at 100)", ms(at_10k)),
        "≤ 1.5× the time at 100",
        ratio <= 1.5,
    );
    // An answer sent right after the account check, which is the key-value store's, with no
    // statement between: under Spin (and the host, which does as Spin) such an answer often
    // left as two writes, the second held by Nagle for the client's delayed ACK (~40 ms).
    let info = sequential(app, Some(&small.token), "/info", SEQUENTIAL).await?;
    let (p50, p90) = (pct(&info, 0.5), pct(&info, 0.9));
    report.check(
        "signed-in `GET /info` one after another, one kept-alive client: p50 / p90",
        format!("{} / {}", ms(p50), ms(p90)),
        "p90 ≤ 5 ms (none held for a delayed ACK)",
        p90 <= Duration::from_millis(5),
    );
    search(app, &searcher.token, &words, o.search_messages, report).await
}

/// Search times over `messages` messages of `token`'s user: a word in about one message in
/// twelve (rank 40 of the Zipf-like vocabulary, the target), then the extremes for context.
async fn search(
    app: &App,
    token: &str,
    words: &[String],
    messages: usize,
    report: &mut Report,
) -> Result<()> {
    for (name, rank, target) in [
        ("a middling word", 40, true),
        ("a rare word", 700, false),
        ("a word in most messages", 0, false),
    ] {
        let q = &words[rank];
        let t = pct(
            &sequential(
                app,
                Some(token),
                &format!("/api/conversations?q={q}"),
                SEQUENTIAL,
            )
            .await?,
            0.5,
        );
        let what = format!("search p50, {name} ({q}), {} messages", thousands(messages));
        if target {
            report.check(what, ms(t), "≤ 50 ms", t <= Duration::from_millis(50));
        } else {
            report.row(what, ms(t));
        }
    }
    Ok(())
}

/// One streamed answer: (time to the first token, total, `delta` events).
/// Which route an answer is asked through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `POST /api/chat/{id}/messages`: stored, `event: delta` per token.
    Native,
    /// `POST /v1/chat/completions` with `stream: true`: a `chat.completion.chunk` per token.
    OpenAi,
}

impl Via {
    /// How many token-carrying events `seen` holds.
    fn deltas(self, seen: &str) -> usize {
        match self {
            Via::Native => seen.matches("event: delta\n").count(),
            Via::OpenAi => seen.matches("\"delta\":{\"content\":\"tok").count(),
        }
    }
}

async fn timed(
    resp: reqwest::Response,
    started: Instant,
    via: Via,
) -> Result<(Duration, Duration, usize)> {
    ensure!(resp.status() == 200, "status {}", resp.status());
    let mut resp = resp;
    let mut seen = String::new();
    let mut first = None;
    while let Some(chunk) = resp.chunk().await? {
        seen.push_str(&String::from_utf8_lossy(&chunk));
        if first.is_none() && seen.contains("tok0 ") {
            first = Some(started.elapsed());
        }
    }
    ensure!(
        seen.contains(&format!("tok{} ", TOKENS - 1)),
        "answer incomplete"
    );
    let deltas = via.deltas(&seen);
    Ok((first.unwrap_or_default(), started.elapsed(), deltas))
}

async fn direct(app: &App, ollama: &str) -> Result<(Duration, Duration, usize)> {
    let started = Instant::now();
    let resp = app
        .http
        .post(format!("{ollama}/api/chat"))
        .json(&json!({"model": "llama3.2:1b", "messages": [{"role": "user", "content": "hi"}], "stream": true}))
        .send()
        .await?;
    timed(resp, started, Via::Native).await
}

/// Asks for an answer through the app: in conversation `id`, or through `/v1` (`via`).
pub async fn through_app(
    app: &App,
    token: &str,
    id: &str,
    via: Via,
) -> Result<(Duration, Duration, usize)> {
    let (path, body) = match via {
        Via::Native => (format!("/api/chat/{id}/messages"), json!({"content": "hi"})),
        Via::OpenAi => (
            "/v1/chat/completions".to_string(),
            json!({"model": "llama3.2:1b", "stream": true,
                   "messages": [{"role": "user", "content": "hi"}]}),
        ),
    };
    let started = Instant::now();
    let resp = app
        .http
        .post(app.at(&path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    timed(resp, started, via).await
}

/// Longer than Spin's idle-instance timeout (1 s) after the direct stream, with a margin
/// for the app's own brief work after an answer (its metrics flush waits 100 ms).
const IDLE_PAST_TIMEOUT: Duration = Duration::from_millis(400);

fn sorted(mut v: Vec<Duration>) -> Vec<Duration> {
    v.sort();
    v
}

pub async fn streaming(
    app: &App,
    fake: &Fake,
    o: &Options,
    report: &mut Report,
    via: Via,
) -> Result<()> {
    let route = match via {
        Via::Native => "streaming",
        Via::OpenAi => "streaming through /v1/chat/completions",
    };
    report.section(match crate::host::first_token_delay() {
        d if d.is_zero() => format!("{route} (fake Ollama: 50 tokens × 20 ms)"),
        d => format!(
            "{route} (fake Ollama: 50 tokens × 20 ms, the first after {} ms)",
            d.as_millis()
        ),
    });
    let mut counted = Counted::default();
    let one = OneStream::measure(app, &fake.url, o.streams, via, &mut counted).await?;
    one.report(report);
    let (c_first, c_total, walls) = bursts(app, via, &mut counted).await?;
    let p = |v: &[Duration]| format!("p50 {}, p90 {}", ms(pct(v, 0.5)), ms(pct(v, 0.9)));
    report.row(
        format!("{CONCURRENT_STREAMS} streams at once ({BURSTS} bursts): time to first token"),
        p(&c_first),
    );
    let over = pct(&c_total, 0.5).as_secs_f64() / pct(&one.a_total, 0.5).as_secs_f64() - 1.0;
    let walls: Vec<String> = walls.into_iter().map(ms).collect();
    report.check(
        format!("{CONCURRENT_STREAMS} streams at once ({BURSTS} bursts): total per stream"),
        format!(
            "p50 {} ({:+.1} % vs one stream), each burst done in {}",
            ms(pct(&c_total, 0.5)),
            over * 100.0,
            walls.join(" / ")
        ),
        "within 5 % of one stream",
        over <= 0.05,
    );
    // Every answer was checked complete (its last token arrived); each of its 50 content
    // chunks must have arrived as its own `delta`.
    let sent = counted.streams * TOKENS;
    report.check(
        format!(
            "token events received / tokens sent ({} streams)",
            counted.streams
        ),
        format!("{} / {sent}", counted.deltas),
        "all, one event per token",
        counted.deltas == sent,
    );
    Ok(())
}

/// Streams answered through the app, and the `delta` events they brought.
#[derive(Default)]
struct Counted {
    streams: usize,
    deltas: usize,
}

/// One stream at a time: times straight from Ollama and through the app, sorted.
struct OneStream {
    d_first: Vec<Duration>,
    d_total: Vec<Duration>,
    a_first: Vec<Duration>,
    a_total: Vec<Duration>,
    added: Vec<Duration>,
    n_first: Vec<Duration>,
    n_added: Vec<Duration>,
}

impl OneStream {
    /// `rounds` rounds: through the app on the instance the last answer used, straight to
    /// Ollama, then through the app again after more than Spin's 1 s idle timeout, on a new
    /// instance (what one user gets for a message sent after reading an answer).
    async fn measure(
        app: &App,
        ollama: &str,
        rounds: usize,
        via: Via,
        counted: &mut Counted,
    ) -> Result<Self> {
        let user = app.user().await?;
        let id = app.conversation(&user.token).await?;
        // A first answer (and the conversation's title) before measuring.
        counted.deltas += through_app(app, &user.token, &id, via).await?.2;
        counted.streams += 1;
        let mut m = Self {
            d_first: vec![],
            d_total: vec![],
            a_first: vec![],
            a_total: vec![],
            added: vec![],
            n_first: vec![],
            n_added: vec![],
        };
        let ollama = ollama.to_string();
        for _ in 0..rounds {
            let (af, at, n) = through_app(app, &user.token, &id, via).await?;
            let (df, dt, _) = direct(app, &ollama).await?;
            tokio::time::sleep(IDLE_PAST_TIMEOUT).await;
            let (nf, _, k) = through_app(app, &user.token, &id, via).await?;
            m.d_first.push(df);
            m.d_total.push(dt);
            m.a_first.push(af);
            m.a_total.push(at);
            m.added.push(af.saturating_sub(df));
            m.n_first.push(nf);
            m.n_added.push(nf.saturating_sub(df));
            counted.deltas += n + k;
            counted.streams += 2;
        }
        for v in [
            &mut m.d_first,
            &mut m.d_total,
            &mut m.a_first,
            &mut m.a_total,
            &mut m.added,
            &mut m.n_first,
            &mut m.n_added,
        ] {
            v.sort();
        }
        Ok(m)
    }

    fn report(&self, report: &mut Report) {
        let p = |v: &[Duration]| format!("p50 {}, p90 {}", ms(pct(v, 0.5)), ms(pct(v, 0.9)));
        report.row(
            "one stream: time to first token, straight from Ollama",
            p(&self.d_first),
        );
        report.row(
            "one stream: time to first token, through the app (instance reused)",
            p(&self.a_first),
        );
        report.check(
            "one stream: added time to first token (instance reused)",
            p(&self.added),
            "p50 ≤ 2 ms",
            pct(&self.added, 0.5) <= Duration::from_millis(2),
        );
        report.row(
            "one stream: time to first token, through the app (new instance)",
            p(&self.n_first),
        );
        report.check(
            "one stream: added time to first token (new instance, after 1 s idle)",
            p(&self.n_added),
            "p50 ≤ 3 ms",
            pct(&self.n_added, 0.5) <= Duration::from_millis(3),
        );
        report.row(
            "one stream: total, straight / through the app",
            format!(
                "p50 {} / {}",
                ms(pct(&self.d_total, 0.5)),
                ms(pct(&self.a_total, 0.5))
            ),
        );
    }
}

/// 32 users, one stream each, at once; three such bursts one after another (the first
/// answer of each conversation, then two more), pooled: one burst's median moves by a few
/// percent from run to run. Times to first token and totals (sorted), and each burst's wall
/// time.
async fn bursts(
    app: &App,
    via: Via,
    counted: &mut Counted,
) -> Result<(Vec<Duration>, Vec<Duration>, Vec<Duration>)> {
    let mut users = Vec::new();
    for _ in 0..CONCURRENT_STREAMS {
        let u = app.user().await?;
        let c = app.conversation(&u.token).await?;
        users.push((u.token, c));
    }
    let (mut c_first, mut c_total, mut walls) = (vec![], vec![], vec![]);
    for _ in 0..BURSTS {
        let started = Instant::now();
        let tasks: Vec<_> = users
            .iter()
            .cloned()
            .map(|(token, c)| {
                let app = app.clone();
                tokio::spawn(async move { through_app(&app, &token, &c, via).await })
            })
            .collect();
        for t in tasks {
            let (f, total, n) = t.await??;
            c_first.push(f);
            c_total.push(total);
            counted.deltas += n;
            counted.streams += 1;
        }
        walls.push(started.elapsed());
    }
    Ok((sorted(c_first), sorted(c_total), walls))
}
