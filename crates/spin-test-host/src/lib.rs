//! A Spin-compatible host for running and testing this app where the Spin CLI is not installed:
//! wasmtime with WASI 0.3 serving the app's components per `spin.toml`, with host
//! implementations of the Spin interfaces the app imports. The fake Ollama, the stand-in
//! servers and the tests' toolkit are in `test-support`.

pub mod build;
pub mod clock;
pub mod engine;
pub mod listen;
pub mod manifest;
pub mod outbound;
pub mod routes;
pub mod runtime_config;
pub mod server;
pub mod spin_apis;
pub mod stores;
pub mod trace;
pub mod variables;

pub use server::{ComponentOutput, Range, ReuseConfig, RunningApp, UpOptions, up};
