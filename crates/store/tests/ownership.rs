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
        matches!(
            words.as_slice(),
            ["SELECT", _, ..]
                | ["INSERT" | "REPLACE", "INTO" | "OR", ..]
                | ["DELETE", "FROM", ..]
                | ["UPDATE", _, "SET"]
                | ["WITH", _, "AS"]
                | ["CREATE", "TABLE" | "INDEX" | "TRIGGER", ..]
                | ["BEGIN" | "PRAGMA", _, ..]
        )
    })
}

/// Every production source outside the store, by path from the workspace root, with its
/// production part (before its `#[cfg(test)]` module).
fn production_sources() -> Vec<(String, String)> {
    let root = root();
    let mut files = Vec::new();
    for dir in [
        "components",
        "crates/core/src",
        "crates/domain/src",
        "crates/ollama/src",
    ] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(
        files.len() > 50,
        "sources not found under {}",
        root.display()
    );
    files
        .iter()
        .map(|f| {
            let source = std::fs::read_to_string(f).unwrap_or_default();
            let code: Vec<&str> = source
                .lines()
                .take_while(|l| l.trim() != "#[cfg(test)]")
                .collect();
            let name = f.strip_prefix(&root).unwrap_or(f).display().to_string();
            (name, code.join("\n"))
        })
        .collect()
}

#[test]
fn no_production_source_outside_the_store_holds_sql() {
    let offenders: Vec<String> = production_sources()
        .into_iter()
        .filter(|(_, code)| code.lines().any(opens_statement))
        .map(|(name, _)| name)
        .collect();
    assert!(
        offenders.is_empty(),
        "SQL outside crates/store (put it in a chat_store module): {offenders:?}"
    );
}

#[test]
fn no_production_source_shares_a_connection_between_tasks() {
    let shared: Vec<String> = production_sources()
        .into_iter()
        .filter(|(_, code)| {
            let code: Vec<&str> = code
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect();
            let code = code.join("\n");
            ["Arc<Db>", "Rc<Db>", "Arc::new(db)", "Rc::new(db)"]
                .iter()
                .any(|p| code.contains(p))
        })
        .map(|(name, _)| name)
        .collect();
    assert!(
        shared.is_empty(),
        "a Db is moved, never shared (see chat_core::spin::db): {shared:?}"
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
