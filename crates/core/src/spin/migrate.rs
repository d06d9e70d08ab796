//! Applies pending migrations once per instance. Safe when many first requests arrive at
//! once, in one instance or several: each migration runs inside `BEGIN IMMEDIATE` (one writer
//! at a time) and re-checks `schema_migrations` there, so it is applied exactly once.

use super::log;
use crate::error::Error;
use crate::migrations::{MIGRATIONS, Migration, pending};
use spin_sdk::sqlite::{Connection, Value};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once this instance has seen the schema up to date: later requests skip the check.
static CURRENT: AtomicBool = AtomicBool::new(false);

pub async fn ensure(conn: &Connection) -> Result<(), Error> {
    if CURRENT.load(Ordering::Acquire) {
        return Ok(());
    }
    let applied = applied(conn).await?;
    let todo = pending(MIGRATIONS, &applied).map_err(|e| {
        log::error("-", "migrations", "refusing to start", &[e.to_string()]);
        Error::internal(e)
    })?;
    if !todo.is_empty() {
        one_database_for_all().await?;
        // Readers no longer wait for writers, and commits need no fsync with `synchronous =
        // NORMAL` (see `Db::connect`). It stays with the database file, so it is set when the
        // schema is created or upgraded, not by every instance: a connection's first
        // statement reads the schema (~0.5 ms here) and this would double it. Refused by
        // backends that manage their own journal (libSQL remote), which is fine.
        if let Ok(r) = conn
            .execute(chat_store::connection::JOURNAL_WAL, vec![])
            .await
        {
            let _ = r.collect().await;
        }
    }
    for m in todo {
        apply(conn, m).await?;
    }
    CURRENT.store(true, Ordering::Release);
    Ok(())
}

/// Refuses a database that each connection sees afresh. Spin keeps the default database in
/// memory under `spin up --state-dir ""`, and then every connection is a database of its own:
/// the schema made here, and what any request stores, would be missing from the next
/// connection, instance and component (registration failed with `no such table`). Checked
/// when the schema needs work, so a fresh or upgraded database pays one more connection, once
/// per instance; `applied` has just made `schema_migrations` on the caller's connection.
async fn one_database_for_all() -> Result<(), Error> {
    let other = Connection::open_default()
        .await
        .map_err(|e| Error::internal("opening database").because(format!("{e:?}")))?;
    match other.execute(chat_store::schema::PROBE, vec![]).await {
        Ok(r) => r.collect().await.map(drop).map_err(|e| format!("{e:?}")),
        Err(e) => Err(format!("{e:?}")),
    }
    .map_err(|e| {
        Error::internal(
            "each connection to the database is a database of its own (an in-memory database, \
             as under `spin up --state-dir \"\"`): give Spin a state directory, or the database \
             a file or server in runtime-config.toml (docs/DEPLOY.md)",
        )
        .because(e)
    })
}

async fn exec(conn: &Connection, sql: &str, params: Vec<Value>) -> Result<(), Error> {
    conn.execute(sql, params)
        .await
        .map_err(|e| Error::internal(format!("statement `{sql}`")).because(format!("{e:?}")))?
        .result()
        .await
        .map_err(|e| Error::internal(format!("statement `{sql}`")).because(format!("{e:?}")))
}

async fn applied(conn: &Connection) -> Result<Vec<(i64, String)>, Error> {
    let rows = match conn.execute(chat_store::schema::APPLIED, []).await {
        Ok(r) => r.collect().await,
        Err(e) => Err(e),
    };
    let rows = match rows {
        Ok(rows) => rows,
        // First run: create the table, then there is nothing applied yet.
        Err(_) => {
            exec(conn, chat_store::schema::CREATE_TABLE, vec![]).await?;
            return Ok(Vec::new());
        }
    };
    Ok(rows
        .iter()
        .filter_map(|r| Some((r.get::<i64>(0)?, r.get::<&str>(1)?.to_string())))
        .collect())
}

async fn apply(conn: &Connection, m: &Migration) -> Result<(), Error> {
    exec(conn, chat_store::connection::BEGIN, vec![]).await?;
    let result = async {
        // Another instance may have applied it while we waited for the write lock.
        let again = applied(conn).await?;
        if pending(std::slice::from_ref(m), &again)
            .map_err(Error::internal)?
            .is_empty()
        {
            return Ok(false);
        }
        for statement in m.statements() {
            exec(conn, &statement, vec![]).await?;
        }
        exec(
            conn,
            chat_store::schema::RECORD,
            vec![
                Value::Integer(m.version),
                Value::Text(m.name.into()),
                Value::Text(m.checksum()),
                Value::Text(log::now_rfc3339()),
            ],
        )
        .await?;
        Ok(true)
    }
    .await;
    match result {
        Ok(ran) => {
            exec(conn, chat_store::connection::COMMIT, vec![]).await?;
            if ran {
                let mut f = serde_json::Map::new();
                f.insert(
                    "message".into(),
                    format!("applied migration {}", m.name).into(),
                );
                log::line(crate::config::LogLevel::Info, f);
            }
            Ok(())
        }
        Err(e) => {
            let _ = exec(conn, chat_store::connection::ROLLBACK, vec![]).await;
            Err(e)
        }
    }
}
