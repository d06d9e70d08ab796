//! Every statement of the storage layer, prepared against the schema that `migrations/` builds
//! (in SQLite, as Spin runs it): a table or column that is not there, a `UNION` whose parts do
//! not line up, or a syntax error fails here, not when a user first meets it.

use rusqlite::Connection;
use std::path::Path;

/// A database with every migration applied, in order, as the adapter applies them.
fn migrated() -> Connection {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap_or_else(|e| panic!("{e}")).path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "migrations not found in {}",
        dir.display()
    );
    let db = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    // The adapter makes the migrations table before the first migration.
    db.execute_batch(chat_store::schema::CREATE_TABLE)
        .unwrap_or_else(|e| panic!("{e}"));
    for file in files {
        let sql = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}"));
        db.execute_batch(&sql)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
    db
}

#[test]
fn every_statement_prepares_against_the_migrated_schema() {
    let db = migrated();
    let catalogue = chat_store::catalogue();
    assert!(catalogue.len() > 20, "{} statements", catalogue.len());
    let failures: Vec<String> = catalogue
        .iter()
        .filter_map(|(name, sql)| db.prepare(sql).err().map(|e| format!("{name}: {e}\n{sql}")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn column_lists_name_columns_of_their_tables() {
    let db = migrated();
    for (table, columns) in [
        ("conversations", chat_store::conversations::COLUMNS),
        ("messages", chat_store::messages::COLUMNS),
    ] {
        let sql = format!("SELECT {columns} FROM {table}");
        db.prepare(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

#[test]
fn the_answer_read_names_its_columns_as_its_rows_are_read() {
    let db = migrated();
    let sql = chat_store::messages::for_answer();
    let stmt = db.prepare(sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
    let expected: Vec<String> = chat_store::messages::for_answer_columns()
        .split(',')
        .map(|c| c.trim().to_string())
        .collect();
    let names: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
    assert_eq!(names, expected);
}
