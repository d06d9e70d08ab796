//! Database migrations: SQL files in `migrations/`, embedded at build time and applied in
//! order on first use. Each applied file is recorded in `schema_migrations` with its SHA-256;
//! a file changed after it was applied is refused (migrations are never edited once applied:
//! add a new one). The Spin adapter runs the plan; this module decides what to run.

use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migration {
    ($version:expr, $file:literal) => {
        Migration {
            version: $version,
            name: $file,
            sql: include_str!(concat!("../../../migrations/", $file)),
        }
    };
}

/// Every migration, in order. Append only.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_foundation.sql"),
    migration!(2, "0002_auth.sql"),
    migration!(3, "0003_conversations.sql"),
    migration!(4, "0004_generations.sql"),
    migration!(5, "0005_metrics.sql"),
    migration!(6, "0006_rate_limit_expiry.sql"),
    migration!(7, "0007_session_expiry.sql"),
    migration!(8, "0008_usage.sql"),
    migration!(9, "0009_quotas.sql"),
    migration!(10, "0010_ollama_servers.sql"),
];

impl Migration {
    pub fn checksum(&self) -> String {
        Sha256::digest(self.sql.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    pub fn statements(&self) -> Vec<String> {
        split_statements(self.sql)
    }
}

/// The latest schema version this build knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MigrationError {
    #[error(
        "migration {name} was changed after it was applied (checksum {found} in the database, {expected} in this build); never edit an applied migration, add a new one"
    )]
    Changed {
        name: &'static str,
        expected: String,
        found: String,
    },
}

/// Which migrations still need to run, given `(version, checksum)` rows already applied.
/// Versions the build does not know (a newer build ran first) are left alone.
pub fn pending<'a>(
    migrations: &'a [Migration],
    applied: &[(i64, String)],
) -> Result<Vec<&'a Migration>, MigrationError> {
    let mut out = Vec::new();
    for m in migrations {
        match applied.iter().find(|(v, _)| *v == m.version) {
            Some((_, checksum)) if *checksum != m.checksum() => {
                return Err(MigrationError::Changed {
                    name: m.name,
                    expected: m.checksum(),
                    found: checksum.clone(),
                });
            }
            Some(_) => {}
            None => out.push(m),
        }
    }
    Ok(out)
}

/// Splits a SQL script into statements (Spin's SQLite runs one statement per call). Knows
/// quotes, comments, and `CREATE TRIGGER ... BEGIN ... END;` bodies.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = sql.chars().peekable();
    let mut word = String::new();
    let mut words_in_statement: Vec<String> = Vec::new();
    let mut depth: i32 = 0;
    let flush_word = |word: &mut String, words: &mut Vec<String>, depth: &mut i32| {
        if word.is_empty() {
            return;
        }
        let upper = word.to_ascii_uppercase();
        let is_trigger = words.len() >= 2
            && words[0] == "CREATE"
            && words.iter().take(3).any(|w| w == "TRIGGER");
        if is_trigger && (upper == "BEGIN" || upper == "CASE") {
            *depth += 1;
        } else if is_trigger && upper == "END" {
            *depth -= 1;
        }
        words.push(upper);
        word.clear();
    };
    while let Some(c) = chars.next() {
        match c {
            '-' if chars.peek() == Some(&'-') => {
                flush_word(&mut word, &mut words_in_statement, &mut depth);
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                current.push('\n');
            }
            '/' if chars.peek() == Some(&'*') => {
                flush_word(&mut word, &mut words_in_statement, &mut depth);
                chars.next();
                let mut prev = ' ';
                for c in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
                current.push(' ');
            }
            '\'' | '"' | '`' => {
                flush_word(&mut word, &mut words_in_statement, &mut depth);
                current.push(c);
                while let Some(q) = chars.next() {
                    current.push(q);
                    if q == c {
                        if chars.peek() == Some(&c) {
                            if let Some(escaped) = chars.next() {
                                current.push(escaped);
                            }
                        } else {
                            break;
                        }
                    }
                }
            }
            ';' => {
                flush_word(&mut word, &mut words_in_statement, &mut depth);
                if depth > 0 {
                    current.push(';');
                    continue;
                }
                let stmt = current.trim();
                if !stmt.is_empty() {
                    out.push(stmt.to_string());
                }
                current.clear();
                words_in_statement.clear();
                depth = 0;
            }
            c if c.is_alphanumeric() || c == '_' => {
                word.push(c);
                current.push(c);
            }
            c => {
                flush_word(&mut word, &mut words_in_statement, &mut depth);
                current.push(c);
            }
        }
    }
    let stmt = current.trim();
    if !stmt.is_empty() {
        out.push(stmt.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_plain_statements_and_drops_comments() {
        let s = split_statements(
            "-- a comment; with a semicolon\nCREATE TABLE a (x TEXT DEFAULT ';'); /* b; */ INSERT INTO a VALUES ('it''s;');\n\n",
        );
        assert_eq!(
            s,
            vec![
                "CREATE TABLE a (x TEXT DEFAULT ';')".to_string(),
                "INSERT INTO a VALUES ('it''s;')".to_string()
            ]
        );
    }

    #[test]
    fn keeps_trigger_bodies_whole() {
        let sql = "CREATE TRIGGER t AFTER INSERT ON a BEGIN
              UPDATE b SET n = CASE WHEN n > 0 THEN n + 1 ELSE 1 END;
              INSERT INTO c VALUES (1);
            END;
            CREATE INDEX i ON a (x);";
        let s = split_statements(sql);
        assert_eq!(s.len(), 2, "{s:#?}");
        assert!(s[0].starts_with("CREATE TRIGGER") && s[0].ends_with("END"));
        assert_eq!(s[1], "CREATE INDEX i ON a (x)");
    }

    #[test]
    fn embedded_migrations_are_ordered_and_split_cleanly() {
        let mut last = 0;
        for m in MIGRATIONS {
            assert!(m.version > last, "{} out of order", m.name);
            last = m.version;
            assert!(!m.statements().is_empty(), "{} has no statements", m.name);
            assert!(m.name.starts_with(&format!("{:04}_", m.version)));
        }
    }

    #[test]
    fn changed_migration_is_refused_and_applied_ones_skipped() {
        let m = MIGRATIONS[0];
        assert_eq!(
            pending(MIGRATIONS, &[]).map(|p| p.len()),
            Ok(MIGRATIONS.len())
        );
        assert_eq!(
            pending(MIGRATIONS, &[(m.version, m.checksum())]).map(|p| p.len()),
            Ok(MIGRATIONS.len() - 1)
        );
        let changed = pending(MIGRATIONS, &[(m.version, "0".repeat(64))]);
        assert!(matches!(changed, Err(MigrationError::Changed { .. })));
        // A version from a newer build is left alone.
        assert!(pending(MIGRATIONS, &[(m.version, m.checksum()), (999, "x".into())]).is_ok());
    }
}
