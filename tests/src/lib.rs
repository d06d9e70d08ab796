//! A Spin-compatible host for running and testing this app where the Spin CLI is not installed:
//! wasmtime with WASI 0.3 serving the app's components per `spin.toml`, with host
//! implementations of the Spin interfaces the app imports, plus a fake Ollama for tests.

pub mod build;
pub mod clock;
pub mod engine;
pub mod fake_ollama;
pub mod fake_wire;
pub mod hrana;
pub mod listen;
pub mod manifest;
pub mod outbound;
pub mod redis_server;
pub mod routes;
pub mod runtime_config;
pub mod server;
pub mod spin_apis;
pub mod spin_bin;
pub mod stores;
pub mod testing;
pub mod trace;
pub mod variables;

pub use server::{ComponentOutput, Range, ReuseConfig, RunningApp, UpOptions, up};
