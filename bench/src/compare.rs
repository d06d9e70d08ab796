//! `--compare "A|B"`: what a setting (or a build) costs. Two hosts run side by side, one with
//! variables A and one with B (e.g. `metrics=on|metrics=off`); `manifest=PATH` in a side
//! serves another `spin.toml` (a copy of an older build, say). Each side gets a user of 100
//! conversations, then 1-second loads of the authenticated list alternate between them for
//! several rounds, and then single streamed answers do, for time to first token. On a shared
//! machine the speed drifts from run to run; alternating puts both sides through the same
//! drift, so the medians compare the settings, not the moments.

use crate::Options;
use crate::client::App;
use crate::host::{Fake, Side};
use crate::report::{ms, pct};
use crate::runs::{Via, load_of, through_app};
use crate::seed::{self, Rng};
use anyhow::{Result, bail};
use std::time::Duration;

const ROUNDS: usize = 12;
const PATH: &str = "/api/conversations?limit=20";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub async fn run(spec: &str, o: &Options) -> Result<()> {
    test_support::testing::ensure_built()?;
    let fake = Fake::start("127.0.0.1:0").await?;
    // Several Ollama servers: `{ollama2}` is a second fake, `{failing}` one whose `/api/chat`
    // answers 500 (and `{ollama}` the first).
    let second = match spec.contains("{ollama2}") {
        true => Some(Fake::start("127.0.0.1:0").await?),
        false => None,
    };
    let failing = match spec.contains("{failing}") {
        true => Some(Fake::start_failing().await?),
        false => None,
    };
    let mut spec = spec.replace("{ollama}", &fake.url);
    for (name, f) in [("{ollama2}", &second), ("{failing}", &failing)] {
        if let Some(f) = f {
            spec = spec.replace(name, &f.url);
        }
    }
    let Some((a, b)) = spec.split_once('|') else {
        bail!("--compare takes two variable sets, e.g. \"metrics=on|metrics=off\"");
    };
    let cache = tempfile::tempdir()?;
    let mut sides = Vec::new();
    for vars in [a, b] {
        let side = Side::start(vars, &fake.url, cache.path()).await?;
        let app = App::new(&side.url)?;
        let words = seed::vocabulary();
        let (user, _) = seed::user_with(&app, 100, 2, &mut Rng::default(), &words).await?;
        // Warm up: instances, connections, caches.
        load_of(&app, PATH, &user.token, 1, None).await?;
        sides.push((side, app, user, Vec::new(), Vec::new()));
    }
    if o.runs("conversations") {
        lists(&mut sides).await?;
    }
    if o.runs("streaming") {
        streams(&sides, o.streams).await?;
    }
    Ok(())
}

type Sides = Vec<(Side, App, crate::client::User, Vec<f64>, Vec<f64>)>;

async fn lists(sides: &mut Sides) -> Result<()> {
    for round in 0..ROUNDS {
        // Alternate which side goes first, so neither always follows the other.
        let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let (side, app, user, rps, cpu) = &mut sides[i];
            let l = load_of(app, PATH, &user.token, 1, Some(side.pid)).await?;
            rps.push(l.rps);
            cpu.push(l.cpu_per_request.unwrap_or(Duration::ZERO).as_secs_f64() * 1e6);
        }
    }
    println!(
        "| setting | list req/s (median of {ROUNDS} × 1 s, 16 connections) | host CPU µs/request (median) |"
    );
    println!("|---|---|---|");
    let mut medians = Vec::new();
    for (side, _, _, rps, cpu) in sides.iter() {
        let (r, c) = (median(rps.clone()), median(cpu.clone()));
        println!("| `{}` | {r:.0} | {c:.0} |", side.label);
        medians.push((r, c));
    }
    let (ra, ca) = medians[0];
    let (rb, cb) = medians[1];
    println!(
        "\n`{}` vs `{}`: throughput {:+.1} %, host CPU per request {:+.1} %\n",
        sides[0].0.label,
        sides[1].0.label,
        (ra / rb - 1.0) * 100.0,
        (ca / cb - 1.0) * 100.0
    );
    Ok(())
}

/// Single streamed answers (50 tokens × 20 ms), alternating between the sides: time to the
/// first token through the app on the instance just used, and on a new one (after more than
/// Spin's 1 s idle timeout).
async fn streams(sides: &Sides, rounds: usize) -> Result<()> {
    let mut conversations = Vec::new();
    for (_, app, user, ..) in sides {
        let id = app.conversation(&user.token).await?;
        // The first answer also titles the conversation; and the instances warm up.
        for _ in 0..2 {
            through_app(app, &user.token, &id, Via::Native).await?;
        }
        conversations.push(id);
    }
    let mut reused = vec![Vec::new(); sides.len()];
    let mut new = vec![Vec::new(); sides.len()];
    for round in 0..rounds {
        let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            // Past the idle timeout: a new instance; right after it: the same instance.
            let (_, app, user, ..) = &sides[i];
            tokio::time::sleep(Duration::from_millis(1_400)).await;
            let (first, ..) = through_app(app, &user.token, &conversations[i], Via::Native).await?;
            new[i].push(first);
            let (first, ..) = through_app(app, &user.token, &conversations[i], Via::Native).await?;
            reused[i].push(first);
        }
    }
    println!("| setting | time to first token, instance reused | new instance ({rounds} each) |");
    println!("|---|---|---|");
    let p = |v: &[Duration]| format!("p50 {}, p90 {}", ms(pct(v, 0.5)), ms(pct(v, 0.9)));
    for (i, (side, ..)) in sides.iter().enumerate() {
        reused[i].sort();
        new[i].sort();
        println!("| `{}` | {} | {} |", side.label, p(&reused[i]), p(&new[i]));
    }
    let diff =
        |v: &[Vec<Duration>]| (pct(&v[0], 0.5).as_secs_f64() - pct(&v[1], 0.5).as_secs_f64()) * 1e3;
    println!(
        "\n`{}` vs `{}`: p50 time to first token {:+.3} ms (instance reused), {:+.3} ms (new instance)",
        sides[0].0.label,
        sides[1].0.label,
        diff(&reused),
        diff(&new)
    );
    Ok(())
}
