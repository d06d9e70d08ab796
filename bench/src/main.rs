//! `cargo run --release -p bench [-- options]`: starts the app in the Spin-compatible test host
//! (its own process, so its memory is its own) with the fake Ollama at 50 tokens × 20 ms (in a
//! process of its own too, as Ollama is), or
//! targets an app already running (`--url`), seeds data through the API, and prints one table
//! of what a user feels, with the project's targets. Every loop is bounded in count and time,
//! and all traffic stays on 127.0.0.1. See docs/BENCHMARKS.md.

mod client;
mod compare;
mod fake_stream;
mod host;
mod kvcount;
mod report;
mod runs;
mod seed;
mod spread;

use anyhow::{Context, Result, bail};
use report::Report;
use std::time::Duration;

const USAGE: &str = "\
usage: cargo run --release -p bench [-- options]

  --quick                 shorter runs (3 s loads, 10 streams, 10,000 messages for search)
  --seconds N             length of each 16-connection load (default 15)
  --streams N             single-stream runs for time to first token (default 30)
  --only PARTS            run only these sections, comma-separated: auth, conversations,
                          streaming, v1 (the streaming rows through /v1/chat/completions)
                          (e.g. `--only streaming` to iterate on time to first token)
  --url URL               measure an app already running there (e.g. `spin up`) instead;
                          it must allow many logins from 127.0.0.1 and use the fake Ollama
                          that --fake-ollama starts
  --fake-ollama ADDR      with --url: serve the fake Ollama on ADDR (e.g. 127.0.0.1:11435)
                          and point the app's `ollama_url` at it
  --spin-bin PATH         serve the app with a real Spin (`PATH up`, the bench's variables,
                          a state dir and compiled-code cache of its own) instead of the
                          test host; the report names the host and its version

  --compare 'A|B'         what a setting costs: two hosts, variables A and B (e.g.
                          'metrics=on|metrics=off'), 1-second list loads alternating
                          between them for 12 rounds, then --streams single streams
                          alternating; prints the medians. `manifest=PATH` in a side
                          serves that spin.toml (e.g. a copy of an older build), and
                          an upper-case NAME=VALUE sets the host's environment (e.g.
                          'RUST_BACKTRACE=1|RUST_BACKTRACE=0');
                          --only conversations|streaming runs one part. Several
                          Ollama servers: `{ollama}` is the fake, `{ollama2}` a second
                          one, `{failing}` one whose /api/chat answers 500, and `;`
                          in a value stands for `,` (e.g. 'ollama_urls=|ollama_urls=
                          {ollama};{ollama2},ollama_url_two={ollama2}')

  --spread                two equal fake Ollama servers: 32 streams at once, each
                          server's answers in flight mid-burst, totals vs one stream
  --kv-count              counting a request: the app's rate-limit upsert vs the
                          key-value store's atomic increment, on Spin's default
                          key-value store and on Redis (needs redis-server), through
                          the probe component in bench/probe

environment:
  BENCH_VARIABLES=NAME=VALUE,...  extra app variables for the host it starts (e.g.
                          `metrics=off`, or `rate_limit_general=0` to measure without counting)
  BENCH_FIRST_TOKEN_MS=N  the fake Ollama answers after N ms (its head and first token), as
                          real Ollama does once it has read the prompt; 0 unless set
";

/// The sections of the report, in order.
const SECTIONS: [&str; 4] = ["auth", "conversations", "streaming", "v1"];

/// What to run, from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub seconds: u64,
    pub streams: usize,
    pub search_messages: usize,
    pub url: Option<String>,
    pub fake_ollama: Option<std::net::SocketAddr>,
    pub compare: Option<String>,
    /// `--spread`: several servers under load (see `spread`).
    pub spread: bool,
    /// `--kv-count`: upsert vs atomic increment (see `kvcount`).
    pub kv_count: bool,
    /// Serve the app with this Spin binary instead of the test host.
    pub spin_bin: Option<std::path::PathBuf>,
    /// Sections to run (`None`: all).
    pub only: Option<Vec<String>>,
}

impl Options {
    /// Whether the section `name` runs.
    pub fn runs(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|parts| parts.iter().any(|p| p == name))
    }
}

impl Options {
    fn parse() -> Result<Self> {
        let mut o = Options {
            seconds: 15,
            streams: 30,
            search_messages: 100_000,
            url: None,
            fake_ollama: None,
            compare: None,
            spread: false,
            kv_count: false,
            spin_bin: None,
            only: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--quick" => {
                    o.seconds = 3;
                    o.streams = 10;
                    o.search_messages = 10_000;
                }
                "--seconds" => o.seconds = value()?.parse()?,
                "--streams" => o.streams = value()?.parse()?,
                "--url" => o.url = Some(value()?.trim_end_matches('/').to_string()),
                "--fake-ollama" => o.fake_ollama = Some(value()?.parse()?),
                "--compare" => o.compare = Some(value()?),
                "--spread" => o.spread = true,
                "--kv-count" => o.kv_count = true,
                "--spin-bin" => o.spin_bin = Some(std::fs::canonicalize(value()?)?),
                "--only" => {
                    let parts: Vec<String> =
                        value()?.split(',').map(|p| p.trim().to_string()).collect();
                    if let Some(p) = parts.iter().find(|p| !SECTIONS.contains(&p.as_str())) {
                        bail!("unknown section {p:?} for --only (one of {SECTIONS:?})");
                    }
                    o.only = Some(parts);
                }
                "-h" | "--help" => {
                    print!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown option {other:?}\n{USAGE}"),
            }
        }
        if o.url.is_some() != o.fake_ollama.is_some() {
            bail!("--url and --fake-ollama go together\n{USAGE}");
        }
        if o.spin_bin.is_some() && (o.url.is_some() || o.compare.is_some()) {
            bail!("--spin-bin starts its own app: not with --url or --compare\n{USAGE}");
        }
        o.seconds = o.seconds.clamp(1, 120);
        o.streams = o.streams.clamp(1, 1_000);
        Ok(o)
    }
}

fn main() -> Result<()> {
    // The child process that serves the app (see `host`).
    match std::env::args().nth(1).as_deref() {
        Some(host::CHILD) => return host::child_main(),
        Some(host::FAKE) => return host::fake_main(),
        _ => {}
    }
    let options = Options::parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(options))
}

async fn run(options: Options) -> Result<()> {
    if let Some(spec) = &options.compare {
        return compare::run(spec, &options).await;
    }
    if options.spread {
        return spread::run().await;
    }
    if options.kv_count {
        return kvcount::run(options.seconds).await;
    }
    let mut report = Report::new(&options);
    let (target, fake) = host::Target::start(&options, &mut report).await?;
    let app = client::App::new(&target.url)?;
    if options.runs("auth") {
        runs::auth(&app, &options, &mut report).await?;
    }
    if options.runs("conversations") {
        runs::conversations(&app, &options, &mut report).await?;
    }
    if options.runs("streaming") {
        runs::streaming(&app, &fake, &options, &mut report, runs::Via::Native).await?;
    }
    if options.runs("v1") {
        runs::streaming(&app, &fake, &options, &mut report, runs::Via::OpenAi).await?;
    }
    target.finish(&mut report)?;
    report::wasm_sizes(&mut report)?;
    report.print();
    // Let sockets close before the host goes.
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(())
}
