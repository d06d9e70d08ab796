-- 0001: the foundation. `schema_migrations` itself is created by the migration runner
-- (crates/core/src/migrations.rs) before any file runs.
--
-- app_meta: facts about this installation, one row per key (e.g. when it was created).
-- Later components keep their own tables in their own migrations.
CREATE TABLE IF NOT EXISTS app_meta (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
) STRICT;

INSERT OR IGNORE INTO app_meta (key, value) VALUES
    ('installed_at', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
