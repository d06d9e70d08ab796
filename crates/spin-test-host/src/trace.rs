//! `SPIN_TEST_HOST_TRACE=1`: one stderr line per host event (request in, response head out,
//! each SQLite statement, key-value call, variable read, outbound request), stamped with
//! microseconds since the host started, to see where a request's time goes. Off by default,
//! and then costs one load of a flag per event.

use std::sync::OnceLock;
use std::time::Instant;

static START: OnceLock<Option<Instant>> = OnceLock::new();

fn start() -> Option<Instant> {
    *START.get_or_init(|| {
        std::env::var_os("SPIN_TEST_HOST_TRACE")
            .filter(|v| !v.is_empty() && v != "0")
            .map(|_| Instant::now())
    })
}

/// Whether tracing is on.
pub fn on() -> bool {
    start().is_some()
}

/// Prints `what` with the time since start, when tracing is on.
pub fn event(what: impl FnOnce() -> String) {
    if let Some(t0) = start() {
        eprintln!(
            "trace {:>10.3} ms {}",
            t0.elapsed().as_secs_f64() * 1e3,
            what()
        );
    }
}

/// The first `n` characters of a statement, on one line.
pub fn short(statement: &str, n: usize) -> String {
    statement
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(n)
        .collect()
}
