//! What the black-box tests and the bench use besides the test host: the fake Ollama (and its
//! wire format), the stand-in servers a test starts (a libSQL-protocol server, a real
//! `redis-server`), the real Spin under `SPIN_BIN`, and the toolkit that spawns the app and
//! speaks to it (`testing`).

pub mod fake_ollama;
pub mod fake_wire;
pub mod hrana;
pub mod redis_server;
pub mod spin_bin;
pub mod testing;
