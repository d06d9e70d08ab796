//! A real `redis-server` of a test's own (Debian's package), for tests that stop and restart the
//! key-value store under a running app. `None` where the binary is not installed.

use anyhow::{Context, Result, bail};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one on a free port of 127.0.0.1; `Ok(None)` when `redis-server` is not installed.
    pub async fn start() -> Result<Option<RedisServer>> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            return Ok(None);
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut server = RedisServer {
            port,
            dir: tempfile::tempdir()?,
            child: None,
        };
        server.resume().await?;
        Ok(Some(server))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A runtime config file in `dir` that keeps the default key-value store on this server.
    pub fn runtime_config_file(&self, dir: &std::path::Path) -> Result<std::path::PathBuf> {
        let file = dir.join("redis-runtime-config.toml");
        std::fs::write(&file, kv_runtime_config(&self.url()))
            .with_context(|| format!("writing {}", file.display()))?;
        Ok(file)
    }

    /// Stops the server (its data goes with it: nothing is saved).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port, and waits until it answers.
    pub async fn resume(&mut self) -> Result<()> {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let client = redis::Client::open(self.url().as_str())?;
            if let Ok(mut c) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("redis-server did not answer on port {}", self.port);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Runtime config text that keeps the default key-value store on the Redis at `url`.
pub fn kv_runtime_config(url: &str) -> String {
    format!("[key_value_store.default]\ntype = \"redis\"\nurl = \"{url}\"\n")
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
