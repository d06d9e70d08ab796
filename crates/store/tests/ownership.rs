//! The storage layer alone holds the app's SQL: no other production source (components, core)
//! may contain a statement; tests may.

use std::path::{Path, PathBuf};

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
            ["SELECT", _, ..] | ["INSERT" | "REPLACE", "INTO" | "OR", ..] => true,
            ["DELETE", "FROM", ..] => true,
            ["UPDATE", _, "SET"] | ["WITH", _, "AS"] => true,
            ["CREATE", "TABLE" | "INDEX" | "TRIGGER", ..] => true,
            ["BEGIN" | "PRAGMA", _, ..] => true,
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
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| has_sql(&std::fs::read_to_string(f).unwrap_or_default()))
        .map(|f| f.strip_prefix(&root).unwrap_or(f).display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "SQL outside crates/store (put it in a chat_store module): {offenders:?}"
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
