//! The black-box suite: every test starts the app (in the test host, under `SPIN_BIN`'s real
//! Spin, or at `APP_URL`) and speaks to it over HTTP. One test binary, so wasmtime and the
//! host are compiled and linked once; `cargo test --test api auth::` runs one section.

mod auth;
mod chat;
mod conversations;
mod cookies;
mod foundation;
mod hostile_input;
mod observability;
mod openai;
mod operations;
mod rate_limits;
mod scaleout;
mod servers;
mod usage;
