//! `fake-ollama [--listen ADDR]`: serves the tests' fake Ollama (for fuzzing, the openai SDK
//! checks and demos), by default on 127.0.0.1:11435.

use anyhow::{Result, bail};
use test_support::fake_ollama::FakeOllama;

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = match (args.next().as_deref(), args.next()) {
        (Some("--listen"), Some(addr)) => addr,
        (None, _) => "127.0.0.1:11435".to_string(),
        _ => bail!("usage: fake-ollama [--listen ADDR]"),
    };
    let fake = FakeOllama::start_on(listen.parse()?, Default::default()).await?;
    println!("Fake Ollama on {}", fake.url());
    std::future::pending().await
}
