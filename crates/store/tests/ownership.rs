//! The storage layer alone holds the app's SQL: no other production source may contain a
//! statement. Files not yet moved here are listed by name, and the list may only shrink: a
//! listed file that no longer has SQL fails too, so whoever moves its statements takes it off.

use std::path::{Path, PathBuf};

/// Production sources that still hold SQL of their own (issue 33 moves them here, one by
/// one). Paths from the workspace root.
const NOT_YET_MOVED: &[&str] = &[
    "components/auth/src/admin.rs",
    "components/auth/src/audit.rs",
    "components/auth/src/keys.rs",
    "components/auth/src/quotas.rs",
    "components/auth/src/routes/admin_users_list.rs",
    "components/auth/src/routes/key_revoke.rs",
    "components/auth/src/routes/key_rotate.rs",
    "components/auth/src/routes/keys_list.rs",
    "components/auth/src/routes/logout.rs",
    "components/auth/src/routes/me_update.rs",
    "components/auth/src/routes/register.rs",
    "components/auth/src/routes/session_revoke.rs",
    "components/auth/src/routes/sessions_list.rs",
    "components/auth/src/sessions.rs",
    "components/auth/src/usage_report.rs",
    "components/auth/src/users.rs",
    "components/health/src/metrics.rs",
    "crates/core/src/migrations.rs",
    "crates/core/src/spin/auth.rs",
    "crates/core/src/spin/db.rs",
    "crates/core/src/spin/metrics.rs",
    "crates/core/src/spin/migrate.rs",
    "crates/core/src/spin/ratelimit.rs",
    "crates/core/src/spin/usage.rs",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether a line opens a string that is a statement: a quote, then a statement's first
/// words (`SELECT x`, `INSERT INTO`, `UPDATE t SET`, `DELETE FROM`, `WITH t AS`, ...).
fn opens_statement(line: &str) -> bool {
    line.split('"').skip(1).step_by(2).any(|literal| {
        let words: Vec<&str> = literal.split_whitespace().take(3).collect();
        match words.as_slice() {
            ["SELECT", ..] | ["INSERT" | "REPLACE", "INTO" | "OR", ..] => true,
            ["DELETE", "FROM", ..] => true,
            ["UPDATE", _, "SET"] | ["WITH", _, "AS"] => true,
            ["CREATE", "TABLE" | "INDEX" | "TRIGGER", ..] => true,
            ["BEGIN" | "COMMIT" | "ROLLBACK" | "PRAGMA", ..] => true,
            _ => false,
        }
    })
}

/// Whether the production part of `source` (before its `#[cfg(test)]` module) has SQL.
fn has_sql(source: &str) -> bool {
    source
        .lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .any(opens_statement)
}

#[test]
fn no_production_source_outside_the_store_holds_sql() {
    let root = root();
    let mut files = Vec::new();
    for dir in ["components", "crates/core/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(
        files.len() > 50,
        "sources not found under {}",
        root.display()
    );
    let mut offenders = Vec::new();
    let mut moved = Vec::new();
    for file in &files {
        let name = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .to_string_lossy()
            .replace('\\', "/");
        let source = std::fs::read_to_string(file).unwrap_or_default();
        match (has_sql(&source), NOT_YET_MOVED.contains(&name.as_str())) {
            (true, false) => offenders.push(name),
            (false, true) => moved.push(name),
            _ => {}
        }
    }
    assert!(
        offenders.is_empty(),
        "SQL outside crates/store (put it in a chat_store module): {offenders:?}"
    );
    assert!(
        moved.is_empty(),
        "these hold no SQL any more: take them off NOT_YET_MOVED: {moved:?}"
    );
}

#[test]
fn the_check_sees_a_statement_in_a_string() {
    assert!(opens_statement(
        r#"db.query("SELECT id FROM users", vec![])"#
    ));
    assert!(opens_statement(
        r#"    "UPDATE generations SET heartbeat_at = ?1","#
    ));
    assert!(opens_statement(r#"let s = "DELETE FROM x";"#));
    assert!(!opens_statement(r#"Error::not_found("Conversation")"#));
    assert!(!opens_statement(r#"log::warn("select a server", e)"#));
}
