//! What the Spin adapter (`chat_core::spin::Db`) sends of its own: transactions, a new
//! connection's settings, and the wrapper that packs a query's rows into one.

use crate::statements;

statements! {
    /// Takes the write lock at once (a transaction that will write).
    BEGIN = "BEGIN IMMEDIATE";
    COMMIT = "COMMIT";
    ROLLBACK = "ROLLBACK";
    /// Commits need no fsync in WAL mode (set on each new connection).
    SYNCHRONOUS_NORMAL = "PRAGMA synchronous = NORMAL";
    /// Readers no longer wait for writers (kept by the database file; set with the schema).
    JOURNAL_WAL = "PRAGMA journal_mode = WAL";
}

/// How long a statement waits for the write lock before SQLite says it is busy.
pub fn busy_timeout(ms: u32) -> String {
    format!("PRAGMA busy_timeout = {ms}")
}

/// `sql`'s rows as one row of one column, `packed`: a JSON array of arrays of the `columns`
/// named (quoted), in the subquery's order (SQLite feeds an aggregate the rows of a subquery
/// with ORDER BY … LIMIT in that order).
pub fn packed(columns: &[String], sql: &str) -> String {
    let quoted: Vec<String> = columns.iter().map(|n| format!("\"{n}\"")).collect();
    format!(
        "SELECT json_group_array(json_array({})) AS packed FROM ({sql})",
        quoted.join(", ")
    )
}

/// The built statements, for the schema test.
pub fn built() -> Vec<(String, String)> {
    let columns = ["id".to_string(), "title".to_string()];
    vec![
        ("busy_timeout".into(), busy_timeout(100)),
        (
            "packed".into(),
            packed(
                &columns,
                "SELECT id, title FROM conversations ORDER BY id LIMIT 2",
            ),
        ),
    ]
}
