//! `SPIN_BIN=/path/to/spin`: each black-box test starts a real `spin up` instead of this host,
//! with the options the host would have had (manifest, fresh state dir, runtime config,
//! variables, instance reuse, no `SPIN_VARIABLE_*` from the test's environment), so the same
//! suite checks the app under Spin itself.

use anyhow::{Context, Result, bail};
use spin_test_host::server::{Range, ReuseConfig, UpOptions};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a `spin up` may take to print its URL (the first start compiles the components).
const START_LIMIT: Duration = Duration::from_secs(120);

/// The Spin binary to test against, if `SPIN_BIN` names one.
pub fn spin_bin() -> Option<PathBuf> {
    std::env::var_os("SPIN_BIN")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// A running `spin up`, stopped (with the trigger process it starts) when dropped.
pub struct SpinProcess {
    child: Child,
    url: String,
}

impl SpinProcess {
    pub async fn start(bin: &Path, o: &UpOptions) -> Result<Self> {
        let mut cmd = Command::new(bin);
        cmd.arg("up")
            .arg("--from")
            .arg(&o.manifest)
            .arg("--listen")
            .arg(o.listen.to_string())
            .arg("--quiet");
        if let Some(dir) = &o.state_dir {
            cmd.arg("--state-dir").arg(dir);
        }
        if let Some(file) = &o.runtime_config_file {
            cmd.arg("--runtime-config-file").arg(file);
        }
        for (name, value) in &o.variables {
            cmd.arg("--variable").arg(format!("{name}={value}"));
        }
        if o.reuse != ReuseConfig::default() {
            reuse_flags(&mut cmd, &o.reuse);
        }
        if let Some(dir) = &o.working_dir {
            cmd.current_dir(dir);
        }
        // Only what Spin needs to run: no variables or settings from the test's environment.
        cmd.env_clear();
        for keep in ["PATH", "HOME", "TMPDIR"] {
            if let Some(v) = std::env::var_os(keep) {
                cmd.env(keep, v);
            }
        }
        for (k, v) in o.env.iter().flatten() {
            cmd.env(k, v);
        }
        // Spin's stderr goes to a file, quoted when it does not start. (Stopping it prints
        // "worker failed: worker panicked" for each live instance: Spin's runtime dropping
        // them, not a panic.)
        let stderr_path = o
            .working_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir)
            .join(format!("spin-up-{}.stderr", std::process::id()));
        let stderr = std::fs::File::create(&stderr_path)
            .with_context(|| format!("creating {}", stderr_path.display()))?;
        // `spin up` runs the trigger as a child process: a group of their own stops both.
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let found = tokio::time::timeout(START_LIMIT, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = serving_url(&line) {
                    return Ok(Some(url));
                }
            }
            anyhow::Ok(None)
        })
        .await;
        let url = match found {
            Ok(Ok(Some(url))) => url,
            Ok(Ok(None)) => bail!(
                "`spin up` ended before serving: {}",
                std::fs::read_to_string(&stderr_path)
                    .unwrap_or_default()
                    .trim()
            ),
            Ok(Err(e)) => return Err(e.context("reading `spin up`'s output")),
            Err(_) => bail!("`spin up` printed no URL within {START_LIMIT:?}"),
        };
        // Keep reading, so Spin never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { child, url })
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for SpinProcess {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg("--")
                .arg(format!("-{pid}"))
                .status();
        }
    }
}

/// The URL in Spin's `Serving http://127.0.0.1:PORT` line (printed with colours on a terminal).
fn serving_url(line: &str) -> Option<String> {
    let at = line.find("http://")?;
    line[..at]
        .contains("Serving")
        .then(|| line[at..].trim_end().trim_end_matches('/').to_string())
        .map(|u| u.split_whitespace().next().unwrap_or_default().to_string())
}

fn reuse_flags(cmd: &mut Command, r: &ReuseConfig) {
    let count = |v: Range<usize>| match v.min == v.max {
        true => v.min.to_string(),
        false => format!("{}..{}", v.min, v.max),
    };
    let time = |v: Range<Duration>| match v.min == v.max {
        true => format!("{}ms", v.min.as_millis()),
        false => format!("{}..{}ms", v.min.as_millis(), v.max.as_millis()),
    };
    cmd.arg("--max-instance-reuse-count")
        .arg(count(r.max_instance_reuse_count))
        .arg("--max-instance-concurrent-reuse-count")
        .arg(count(r.max_instance_concurrent_reuse_count))
        .arg("--idle-instance-timeout")
        .arg(time(r.idle_instance_timeout));
    if let Some(t) = r.request_timeout {
        cmd.arg("--request-timeout")
            .arg(format!("{}ms", t.as_millis()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_url_in_spins_serving_line() {
        assert_eq!(
            serving_url("Serving http://127.0.0.1:41234").as_deref(),
            Some("http://127.0.0.1:41234")
        );
        assert_eq!(
            serving_url("\u{1b}[1;32mServing\u{1b}[0m http://127.0.0.1:3000\n").as_deref(),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(
            serving_url("  chat: http://127.0.0.1:3000/api/chat/..."),
            None
        );
    }
}
