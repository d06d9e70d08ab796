//! The `spin-test-host` binary starts and says how to use it (and `cargo test` builds it, so
//! the scripts that serve the app with it find it built: scripts/app.sh).

use std::process::Command;

#[test]
fn without_a_command_it_prints_its_usage_and_fails() {
    let out = Command::new(env!("CARGO_BIN_EXE_spin-test-host"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("usage: spin-test-host up"), "{stderr}");
    assert!(stderr.contains("expected `up` or `build`"), "{stderr}");
}
