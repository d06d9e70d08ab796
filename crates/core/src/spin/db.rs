//! A thin typed layer over Spin's SQLite. Opening a [`Db`] applies pending migrations the
//! first time in each instance. One `Db` is one connection, used by one task at a time
//! (Spin may run several requests at once in one instance).
//!
//! Never use one `Db` from two tasks at once. Spin runs a statement on a blocking thread that
//! holds the connection's lock, also while it waits for SQLite's write lock (up to 5 s), and it
//! answers `changes()` by taking that lock on the instance's event loop: a second task's
//! `changes()` would stall every task of the instance, including the one holding the write lock
//! the first is waiting for (seen as a 5 s deadlock). Give a concurrent task its own `Db`.
//!
//! A dropped `Db` leaves its connection idle in this instance for a later request, if it is
//! known clean (no transaction open, no statement cut off): a new connection reads the whole
//! schema on its first statement, which was a third of a small request's time. Nothing depends
//! on it: when globals do not survive, every request opens its own connection.

use super::migrate;
use crate::error::Error;
use spin_sdk::sqlite::{Connection, Value};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Idle connections of this instance, and whether each has `synchronous = NORMAL`.
static IDLE: Mutex<Vec<(Connection, bool)>> = Mutex::new(Vec::new());
/// As many as Spin runs requests at once in an instance; Spin allows 256 per instance.
const MAX_IDLE: usize = 16;

pub struct Db {
    conn: Option<Connection>,
    /// `synchronous = NORMAL` was set on this connection (before its first write).
    synced: AtomicBool,
    /// A transaction is open (`BEGIN` ran, no `COMMIT`/`ROLLBACK` has succeeded since).
    in_transaction: AtomicBool,
    /// A statement was started and has not been seen to finish (its future was dropped).
    busy: AtomicBool,
}

impl Drop for Db {
    fn drop(&mut self) {
        if self.in_transaction.load(Ordering::Relaxed) || self.busy.load(Ordering::Relaxed) {
            return; // closed: SQLite rolls back whatever was left open
        }
        if let (Some(conn), Ok(mut idle)) = (self.conn.take(), IDLE.lock())
            && idle.len() < MAX_IDLE
        {
            idle.push((conn, self.synced.load(Ordering::Relaxed)));
        }
    }
}

/// One result row, with values by column name.
pub struct Row<'a> {
    columns: &'a [String],
    values: &'a [Value],
}

impl<'a> Row<'a> {
    fn value(&self, column: &str) -> Result<&'a Value, Error> {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| Error::internal(format!("no column {column:?} in result")))
    }

    pub fn text(&self, column: &str) -> Result<String, Error> {
        match self.value(column)? {
            Value::Text(s) => Ok(s.clone()),
            other => Err(Error::internal(format!(
                "column {column:?} is not text: {other:?}"
            ))),
        }
    }

    pub fn opt_text(&self, column: &str) -> Result<Option<String>, Error> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s.clone())),
            other => Err(Error::internal(format!(
                "column {column:?} is not text: {other:?}"
            ))),
        }
    }

    pub fn real(&self, column: &str) -> Result<f64, Error> {
        match self.value(column)? {
            Value::Real(f) => Ok(*f),
            Value::Integer(i) => Ok(*i as f64),
            other => Err(Error::internal(format!(
                "column {column:?} is not a number: {other:?}"
            ))),
        }
    }

    pub fn int(&self, column: &str) -> Result<i64, Error> {
        match self.value(column)? {
            Value::Integer(i) => Ok(*i),
            other => Err(Error::internal(format!(
                "column {column:?} is not an integer: {other:?}"
            ))),
        }
    }

    pub fn opt_int(&self, column: &str) -> Result<Option<i64>, Error> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Integer(i) => Ok(Some(*i)),
            other => Err(Error::internal(format!(
                "column {column:?} is not an integer: {other:?}"
            ))),
        }
    }
}

/// A type read from one row.
pub trait FromRow: Sized {
    fn from_row(row: &Row<'_>) -> Result<Self, Error>;
}

impl Db {
    /// Opens the default database, migrated to this build's schema.
    pub async fn open() -> Result<Self, Error> {
        let reused = IDLE.lock().ok().and_then(|mut idle| idle.pop());
        Ok(Self::from_conn(match reused {
            Some(c) => c,
            None => Self::connect().await?,
        }))
    }

    /// A `Db` over `conn` (and whether it has `synchronous = NORMAL`), with nothing open.
    fn from_conn((conn, synced): (Connection, bool)) -> Self {
        Self {
            conn: Some(conn),
            synced: AtomicBool::new(synced),
            in_transaction: AtomicBool::new(false),
            busy: AtomicBool::new(false),
        }
    }

    /// A new connection, migrated: its first statement reads the whole schema.
    async fn connect() -> Result<(Connection, bool), Error> {
        let conn = Connection::open_default()
            .await
            .map_err(|e| Error::internal(format!("opening database: {e:?}")))?;
        migrate::ensure(&conn).await?;
        Ok((conn, false))
    }

    /// When this instance has no connection idle: the work of opening one and leaving it idle,
    /// for the caller to drive alongside a new instance's other first-time work (variables,
    /// the token's secret, the caller's account), since a new connection reads the whole
    /// schema on its first statement. Drive it in the same task as the [`Db::open`] that is
    /// to find it (wit-bindgen cannot wake a task for another task's Rust future).
    pub fn prewarm() -> Option<impl Future<Output = ()> + 'static> {
        if IDLE.lock().map(|i| !i.is_empty()).unwrap_or(true) {
            return None;
        }
        Some(async {
            // A failure is the caller's to see, on its own open.
            // Dropped at once: clean, it goes idle.
            if let Ok(c) = Self::connect().await {
                drop(Self::from_conn(c));
            }
        })
    }

    fn conn(&self) -> Result<&Connection, Error> {
        self.conn
            .as_ref()
            .ok_or_else(|| Error::internal("database connection already closed"))
    }

    /// Runs a statement; returns the number of rows it changed.
    pub async fn execute(&self, sql: &str, params: Vec<Value>) -> Result<u64, Error> {
        self.busy.store(true, Ordering::Relaxed);
        let changed = self.execute_inner(sql, params).await;
        self.busy.store(false, Ordering::Relaxed);
        if changed.is_ok() {
            let head = sql
                .trim_start()
                .get(..8)
                .unwrap_or(sql)
                .to_ascii_uppercase();
            if head.starts_with("BEGIN") {
                self.in_transaction.store(true, Ordering::Relaxed);
            } else if ["COMMIT", "ROLLBACK", "END"]
                .iter()
                .any(|k| head.starts_with(k))
            {
                self.in_transaction.store(false, Ordering::Relaxed);
            }
        }
        changed
    }

    async fn execute_inner(&self, sql: &str, params: Vec<Value>) -> Result<u64, Error> {
        let counts_rows = ![
            "BEGIN",
            "COMMIT",
            "ROLLBACK",
            "END",
            "PRAGMA",
            "SAVEPOINT",
            "RELEASE",
        ]
        .iter()
        .any(|k| {
            sql.trim_start()
                .get(..k.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(k))
        });
        let conn = self.conn()?;
        if !self.synced.swap(true, Ordering::Relaxed) {
            // With WAL (set once by the migrator; it stays with the file), NORMAL syncs at
            // checkpoints instead of at every commit: a commit costs no fsync, and an app
            // crash still loses nothing (a power loss may lose the last commits, never
            // corrupt). Set before the connection's first write only, so reads pay nothing.
            // Backends without PRAGMAs (libSQL remote) refuse it; that is fine.
            if let Ok(r) = conn.execute("PRAGMA synchronous = NORMAL", vec![]).await {
                let _ = r.result().await;
            }
        }
        let result = conn
            .execute(sql, params)
            .await
            .map_err(|e| Error::internal(format!("{e:?} in: {sql}")))?;
        result
            .result()
            .await
            .map_err(|e| Error::internal(format!("{e:?} in: {sql}")))?;
        // Statements that change no rows skip the host call.
        Ok(if counts_rows { conn.changes().await } else { 0 })
    }

    /// Runs a query and maps every row.
    pub async fn query<T: FromRow>(&self, sql: &str, params: Vec<Value>) -> Result<Vec<T>, Error> {
        self.busy.store(true, Ordering::Relaxed);
        let rows = self.query_inner(sql, params).await;
        self.busy.store(false, Ordering::Relaxed);
        rows
    }

    async fn query_inner<T: FromRow>(
        &self,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Vec<T>, Error> {
        let result = self
            .conn()?
            .execute(sql, params)
            .await
            .map_err(|e| Error::internal(format!("{e:?} in: {sql}")))?;
        let columns = result.columns().to_vec();
        let rows = result
            .collect()
            .await
            .map_err(|e| Error::internal(format!("{e:?} in: {sql}")))?;
        rows.iter()
            .map(|r| {
                T::from_row(&Row {
                    columns: &columns,
                    values: &r.values,
                })
            })
            .collect()
    }

    /// Starts a write transaction at once (`BEGIN IMMEDIATE`), so check-then-write sequences
    /// cannot interleave with another writer. End it with [`Db::commit`] or [`Db::rollback`].
    pub async fn begin(&self) -> Result<(), Error> {
        self.execute("BEGIN IMMEDIATE", vec![]).await.map(|_| ())
    }

    pub async fn commit(&self) -> Result<(), Error> {
        self.execute("COMMIT", vec![]).await.map(|_| ())
    }

    /// Best effort: used on error paths, where the original error matters more.
    pub async fn rollback(&self) {
        let _ = self.execute("ROLLBACK", vec![]).await;
    }

    /// Runs `f` in a write transaction: all of it or none of it.
    pub async fn transaction<T>(
        &self,
        f: impl AsyncFnOnce(&Db) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.begin().await?;
        match f(self).await {
            Ok(v) => {
                self.commit().await?;
                Ok(v)
            }
            Err(e) => {
                self.rollback().await;
                Err(e)
            }
        }
    }

    pub async fn query_opt<T: FromRow>(
        &self,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Option<T>, Error> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }
}
