//! `schema_migrations`: which migrations were applied.

use crate::statements;

statements! {
    /// Makes the migrations table (before the first migration).
    CREATE_TABLE = "CREATE TABLE IF NOT EXISTS schema_migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        checksum   TEXT NOT NULL,
        applied_at TEXT NOT NULL
    )";
    /// Every applied migration's version and checksum.
    APPLIED = "SELECT version, checksum FROM schema_migrations";
    /// Migration `?1` (file `?2`, checksum `?3`) was applied at `?4`.
    RECORD = "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)";
    /// Whether the migrations table is there (fails on a database without it).
    PROBE = "SELECT 1 FROM schema_migrations LIMIT 1";
    /// The highest applied migration (column `version`).
    VERSION = "SELECT MAX(version) AS version FROM schema_migrations";
}
