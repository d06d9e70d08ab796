//! The `fake-ollama` binary serves the fake Ollama where it is told (and `cargo test` builds
//! it, so scripts/app.sh finds it built).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn it_serves_ollamas_version_on_the_address_given() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-ollama"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("{e}"));
    let url = line
        .trim()
        .strip_prefix("Fake Ollama on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let answer = runtime.block_on(async {
        let resp = reqwest::get(format!("{url}/api/version")).await?;
        let status = resp.status();
        resp.json::<serde_json::Value>().await.map(|v| (status, v))
    });
    let _ = child.kill();
    let _ = child.wait();
    let (status, version) = answer.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 200);
    assert!(version["version"].is_string(), "{version}");
}
