//! The app under test: the test host in a child process of this binary (so its start-up and
//! memory are its own, as `spin up`'s would be), a real `spin up` (`--spin-bin`), or an app
//! already running (`--url`).

use crate::Options;
use crate::fake_stream::{TOKEN_DELAY, TOKENS};
use crate::report::Report;
use anyhow::{Context, Result, bail};
use spin_test_host::{ComponentOutput, UpOptions, up};
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use test_support::fake_ollama::{FakeOllama, FakeOllamaConfig};
use test_support::testing;

/// The argument that makes this binary serve the app instead of measuring it.
pub const CHILD: &str = "__serve";
/// The argument that makes this binary serve the fake Ollama.
pub const FAKE: &str = "__fake_ollama";

/// `BENCH_FIRST_TOKEN_MS`: how long the fake Ollama takes to answer (its response head and
/// first token), as real Ollama reads the prompt first; 0 (at once) unless set.
pub fn first_token_delay() -> Duration {
    std::env::var("BENCH_FIRST_TOKEN_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::ZERO, Duration::from_millis)
}

/// The app's host process (0: none, e.g. `--url`), whose CPU time the loads report.
static HOST_PID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// The app's host process, if this bench started it.
pub fn host_pid() -> Option<u32> {
    Some(HOST_PID.load(std::sync::atomic::Ordering::Relaxed)).filter(|p| *p != 0)
}

/// CPU time (user + system) process `pid` has used so far.
pub fn host_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at `) `.
    let rest = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let total = ticks(11)? + ticks(12)?;
    // The kernel reports in clock ticks, 100 a second on Linux.
    Some(Duration::from_millis(total * 10))
}

pub struct Target {
    pub url: String,
    child: Option<Child>,
    _state: Option<tempfile::TempDir>,
}

/// The fake Ollama in a process of its own, as a real Ollama is: then "straight from Ollama"
/// crosses processes exactly as often as the app's own call does.
pub struct Fake {
    pub url: String,
    child: Child,
}

impl Drop for Fake {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

fn stop(child: &mut Child) {
    // `spin up` runs its trigger as a child in the same process group (see `spawn_spin`).
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

impl Fake {
    pub async fn start(addr: &str) -> Result<Fake> {
        let (child, url) = spawn_serving(&[FAKE, addr], None).await?;
        Ok(Fake { url, child })
    }

    /// A fake whose `/api/chat` answers 500 (its other routes work): a server that fails.
    pub async fn start_failing() -> Result<Fake> {
        let (child, url) = spawn_serving(&[FAKE, "127.0.0.1:0", FAILING], None).await?;
        Ok(Fake { url, child })
    }
}

/// [`fake_main`]'s third argument for [`Fake::start_failing`].
const FAILING: &str = "chat500";

/// Starts this binary with `args`; returns it and the URL it prints as `Serving URL`.
async fn spawn_serving(args: &[&str], cache: Option<&Path>) -> Result<(Child, String)> {
    spawn_serving_with(args, cache, None).await
}

/// Like [`spawn_serving`], with `BENCH_VARIABLES` set for the child when given (and
/// `BENCH_MANIFEST` from a `manifest=PATH` among them, `BENCH_RUNTIME_CONFIG` from a
/// `runtime_config=PATH`, and the environment variables among
/// them with upper-case names).
async fn spawn_serving_with(
    args: &[&str],
    cache: Option<&Path>,
    variables: Option<&str>,
) -> Result<(Child, String)> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // Hosts run as in production, where `RUST_BACKTRACE` is rarely set. With it, wasmtime 47
    // captures a backtrace for an error it makes and drops whenever it disposes of a fiber
    // (several times per request), which cost about 5 % of the host's CPU in a chat-send loop.
    // A developer's shell often sets it; `--compare 'RUST_BACKTRACE=1|RUST_BACKTRACE=0'` measures it.
    command
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE");
    if let Some(v) = variables {
        let mut rest = Vec::new();
        for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("manifest", path)) => {
                    command.env("BENCH_MANIFEST", std::fs::canonicalize(path.trim())?);
                }
                Some(("runtime_config", path)) => {
                    command.env(
                        "BENCH_RUNTIME_CONFIG",
                        std::fs::canonicalize(path.trim())
                            .with_context(|| format!("runtime config {path}"))?,
                    );
                }
                // An upper-case name is the host process's environment, not an app variable.
                Some((name, value))
                    if !name.is_empty()
                        && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') =>
                {
                    command.env(name, value);
                }
                _ => rest.push(pair),
            }
        }
        command.env("BENCH_VARIABLES", rest.join(","));
    }
    if let Some(cache) = cache {
        command.env("SPIN_TEST_HOST_CACHE_DIR", cache);
    }
    let (child, rx) = read_serving(command)?;
    let url = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(120)))
        .await?
        .context("the child process did not start within 120 s")?;
    Ok((child, url))
}

/// Starts `command` (stdout piped) and reads its output on a thread of its own; the receiver
/// gets the URL of its `Serving http://...` line (this binary's, or Spin's, coloured or not).
fn read_serving(mut command: Command) -> Result<(Child, std::sync::mpsc::Receiver<String>)> {
    let mut child = command.spawn().context("starting a child process")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let (Some(s), Some(h)) = (line.find("Serving"), line.find("http://"))
                && s < h
            {
                let url = line[h..].split_whitespace().next().unwrap_or_default();
                let _ = tx.send(url.trim_end_matches('/').to_string());
            }
        }
    });
    Ok((child, rx))
}

impl Target {
    pub async fn start(options: &Options, report: &mut Report) -> Result<(Target, Fake)> {
        if let (Some(url), Some(addr)) = (&options.url, options.fake_ollama) {
            let fake = Fake::start(&addr.to_string()).await?;
            wait_ready(url, Duration::from_secs(10)).await?;
            report.note(format!("target: {url} (started elsewhere)"));
            return Ok((
                Target {
                    url: url.clone(),
                    child: None,
                    _state: None,
                },
                fake,
            ));
        }
        testing::ensure_built()?;
        let fake = Fake::start("127.0.0.1:0").await?;
        let state = tempfile::tempdir()?;
        if let Some(bin) = &options.spin_bin {
            report.note(format!("host: {} ({})", spin_version(bin), bin.display()));
            let cache = spin_cache_config(state.path())?;
            let (cold, (mut first, _)) = spawn_spin(bin, state.path(), &cache, &fake.url).await?;
            report.startup("start-up to healthy, first start (compiling)", cold);
            stop(&mut first);
            let _ = std::fs::remove_dir_all(state.path().join("state"));
            let (warm, (child, url)) = spawn_spin(bin, state.path(), &cache, &fake.url).await?;
            report.startup("start-up to healthy, compiled code cached", warm);
            return Ok((
                Target {
                    url,
                    child: Some(child),
                    _state: Some(state),
                },
                fake,
            ));
        }
        report.note("host: the Spin-compatible test host (spin-test-host)".to_string());
        // Cold: a new compiled-code cache, so all four components are compiled (Spin's first
        // start on a machine). Warm: the same cache again (every later start).
        let cache = state.path().join("cache");
        let (cold, (mut first, _)) = spawn(state.path(), &cache, &fake.url).await?;
        report.startup("start-up to healthy, first start (compiling)", cold);
        stop(&mut first);
        let _ = std::fs::remove_dir_all(state.path().join("state"));
        let (warm, (child, url)) = spawn(state.path(), &cache, &fake.url).await?;
        report.startup("start-up to healthy, compiled code cached", warm);
        Ok((
            Target {
                url,
                child: Some(child),
                _state: Some(state),
            },
            fake,
        ))
    }

    /// Reads the host's memory and stops it.
    pub fn finish(mut self, report: &mut Report) -> Result<()> {
        if let Some(child) = &mut self.child {
            // Under `spin up`, the process serving is its trigger child.
            let pid = host_pid().unwrap_or(child.id());
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let field = |name: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            };
            if let (Some(rss), Some(peak)) = (field("VmRSS:"), field("VmHWM:")) {
                report.memory(rss, peak);
            }
            stop(child);
        }
        Ok(())
    }
}

/// Starts the host as a child process; returns the time until `/health/ready` answered 200.
async fn spawn(dir: &Path, cache: &Path, ollama: &str) -> Result<(Duration, (Child, String))> {
    let started = Instant::now();
    let state = dir.join("state");
    let state = state.to_string_lossy();
    let (child, url) = spawn_serving(&[CHILD, &state, ollama], Some(cache)).await?;
    HOST_PID.store(child.id(), std::sync::atomic::Ordering::Relaxed);
    wait_ready(&url, Duration::from_secs(120)).await?;
    Ok((started.elapsed(), (child, url)))
}

/// Polls `/health/ready` (every 2 ms, at most `limit`).
async fn wait_ready(url: &str, limit: Duration) -> Result<()> {
    wait_until_ok(url, "/health/ready", limit).await
}

/// Polls `path` until it answers 200 (every 2 ms, at most `limit`).
async fn wait_until_ok(url: &str, path: &str, limit: Duration) -> Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(r) = client.get(format!("{url}{path}")).send().await
            && r.status() == 200
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{url}{path} did not answer 200 within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The fake Ollama's process: 50 tokens, 20 ms apart, until killed.
pub fn fake_main() -> Result<()> {
    let Some(addr) = std::env::args().nth(2) else {
        bail!("usage: bench {FAKE} ADDR [{FAILING}]");
    };
    let failing = std::env::args().nth(3).as_deref() == Some(FAILING);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let config = FakeOllamaConfig {
            tokens: TOKENS,
            token_delay: TOKEN_DELAY,
            first_byte_delay: first_token_delay(),
            ..FakeOllamaConfig::default()
        };
        let fake = FakeOllama::start_on(addr.parse()?, config).await?;
        if failing {
            fake.set_fault(test_support::fake_ollama::FaultMode::ChatServerError);
        }
        println!("Serving {}", fake.url());
        std::future::pending::<Result<()>>().await
    })
}

/// The child: serve the app with the bench's settings until killed.
pub fn child_main() -> Result<()> {
    let mut args = std::env::args().skip(2);
    let (Some(state), Some(ollama)) = (args.next(), args.next()) else {
        bail!("usage: bench {CHILD} STATE_DIR OLLAMA_URL");
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        // `manifest=PATH` in a `--compare` side: another build's spin.toml.
        let manifest = std::env::var_os("BENCH_MANIFEST")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| testing::workspace_dir().join("spin.toml"));
        let mut options = UpOptions::new(manifest);
        options.runtime_config_file = std::env::var_os("BENCH_RUNTIME_CONFIG").map(Into::into);
        options.listen = "127.0.0.1:0".parse()?;
        options.state_dir = Some(state.into());
        options.env = Some(Default::default());
        options.output = ComponentOutput::Files;
        // The probe of `--kv-count` declares no variables.
        if std::env::var_os("BENCH_PROBE").is_none() {
            options.variables = bench_variables(&ollama);
        }
        let app = up(options).await?;
        println!("Serving {}", app.url());
        app.wait().await
    })
}

/// The app's variables in the bench: the fake Ollama, limits that one client never reaches,
/// and `BENCH_VARIABLES` (e.g. `metrics=off,rate_limit_general=600`) on top.
fn bench_variables(ollama: &str) -> Vec<(String, String)> {
    let mut variables: Vec<(String, String)> = [
        ("ollama_url", ollama),
        ("default_model", "llama3.2:1b"),
        ("jwt_secret", "bench-secret-not-for-production"),
        // Many logins and registrations come from 127.0.0.1.
        ("login_max_attempts_per_ip", "1000000"),
        ("login_max_failures", "1000000"),
        // Counted, as in a default deployment, but never refused: the bench is one
        // client pushing as hard as it can (`rate_limit_*=0` in `--compare` or
        // `BENCH_VARIABLES` measures without counting).
        ("rate_limit_auth", "1000000000"),
        ("rate_limit_chat", "1000000000"),
        ("rate_limit_general", "1000000000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for pair in std::env::var("BENCH_VARIABLES")
        .unwrap_or_default()
        .split(',')
    {
        // `;` in a value stands for `,` (the pairs are comma-separated): `ollama_urls=A;B`.
        if let Some((k, v)) = pair.split_once('=') {
            variables.push((k.trim().to_string(), v.trim().replace(';', ",")));
        }
    }
    variables
}

/// `spin --version`'s line, to name the host in the report.
fn spin_version(bin: &Path) -> String {
    Command::new(bin)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "spin (version unknown)".to_string())
}

/// A Wasmtime cache configuration for `spin up --cache` with its directory in `dir`, so the
/// first start compiles and the second loads, as the test host's cold and warm starts do.
fn spin_cache_config(dir: &Path) -> Result<std::path::PathBuf> {
    let file = dir.join("wasmtime-cache.toml");
    let cache = dir.join("cache");
    std::fs::write(
        &file,
        format!("[cache]\ndirectory = {:?}\n", cache.to_string_lossy()),
    )?;
    Ok(file)
}

/// Starts `bin up` with the bench's variables; returns the time until `/health/ready`
/// answered 200. The trigger process it starts becomes the host whose CPU and memory count.
async fn spawn_spin(
    bin: &Path,
    dir: &Path,
    cache: &Path,
    ollama: &str,
) -> Result<(Duration, (Child, String))> {
    use std::os::unix::process::CommandExt;
    let started = Instant::now();
    let mut command = Command::new(bin);
    command
        .arg("up")
        .arg("--from")
        .arg(testing::workspace_dir().join("spin.toml"))
        .args(["--listen", "127.0.0.1:0", "--quiet"])
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--cache")
        .arg(cache);
    for (k, v) in bench_variables(ollama) {
        command.arg("--variable").arg(format!("{k}={v}"));
    }
    command
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let (child, url) = read_serving(command)?;
    let url = tokio::task::spawn_blocking(move || url.recv_timeout(Duration::from_secs(120)))
        .await?
        .context("`spin up` printed no URL within 120 s")?;
    let trigger = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id()))
        .ok()
        .and_then(|c| c.split_whitespace().next()?.parse().ok())
        .unwrap_or(child.id());
    HOST_PID.store(trigger, std::sync::atomic::Ordering::Relaxed);
    wait_ready(&url, Duration::from_secs(120)).await?;
    Ok((started.elapsed(), (child, url)))
}

/// A host of its own with `variables` (`NAME=VALUE,...`), for comparing settings.
pub struct Side {
    pub label: String,
    pub url: String,
    pub pid: u32,
    child: Child,
    _state: tempfile::TempDir,
}

impl Side {
    /// The app with `variables`, once `/health/ready` answers.
    pub async fn start(variables: &str, ollama: &str, cache: &Path) -> Result<Self> {
        Self::start_ready_at(variables, ollama, cache, "/health/ready").await
    }

    /// A manifest (named in `variables`) once its `ready` path answers 200.
    pub async fn start_ready_at(
        variables: &str,
        ollama: &str,
        cache: &Path,
        ready: &str,
    ) -> Result<Self> {
        let state = tempfile::tempdir()?;
        let dir = state.path().join("state");
        let dir = dir.to_string_lossy();
        let (child, url) =
            spawn_serving_with(&[CHILD, &dir, ollama], Some(cache), Some(variables)).await?;
        wait_until_ok(&url, ready, Duration::from_secs(120)).await?;
        Ok(Self {
            label: variables.to_string(),
            url,
            pid: child.id(),
            child,
            _state: state,
        })
    }
}

impl Drop for Side {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
