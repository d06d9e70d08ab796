//! `--compare "A|B"`: what a setting costs. Two hosts run side by side, one with variables A
//! and one with B (e.g. `metrics=on|metrics=off`), each with a user of 100 conversations, and
//! 1-second loads of the authenticated list alternate between them for several rounds. On a
//! shared machine the speed drifts from run to run; alternating second by second puts both
//! sides through the same drift, so the medians compare the settings, not the moments.

use crate::client::App;
use crate::host::{Fake, Side};
use crate::runs::load_of;
use crate::seed::{self, Rng};
use anyhow::{Result, bail};
use std::time::Duration;

const ROUNDS: usize = 12;
const PATH: &str = "/api/conversations?limit=20";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub async fn run(spec: &str) -> Result<()> {
    let Some((a, b)) = spec.split_once('|') else {
        bail!("--compare takes two variable sets, e.g. \"metrics=on|metrics=off\"");
    };
    spin_test_host::testing::ensure_built()?;
    let fake = Fake::start("127.0.0.1:0").await?;
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
    for (side, _, _, rps, cpu) in &sides {
        let (r, c) = (median(rps.clone()), median(cpu.clone()));
        println!("| `{}` | {r:.0} | {c:.0} |", side.label);
        medians.push((r, c));
    }
    let (ra, ca) = medians[0];
    let (rb, cb) = medians[1];
    println!(
        "\n`{a}` vs `{b}`: throughput {:+.1} %, host CPU per request {:+.1} %",
        (ra / rb - 1.0) * 100.0,
        (ca / cb - 1.0) * 100.0
    );
    Ok(())
}
