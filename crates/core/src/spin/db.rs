//! A thin typed layer over Spin's SQLite. Opening a [`Db`] applies pending migrations the
//! first time in each instance. One `Db` is one connection: keep it to one request (Spin may
//! run several requests at once in one instance, so never share a connection in a global).

use super::migrate;
use crate::error::Error;
use spin_sdk::sqlite::{Connection, Value};

pub struct Db {
    conn: Connection,
    /// `synchronous = NORMAL` was set on this connection (before its first write).
    synced: std::sync::atomic::AtomicBool,
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
        let conn = Connection::open_default()
            .await
            .map_err(|e| Error::internal(format!("opening database: {e:?}")))?;
        migrate::ensure(&conn).await?;
        Ok(Self {
            conn,
            synced: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Runs a statement; returns the number of rows it changed.
    pub async fn execute(&self, sql: &str, params: Vec<Value>) -> Result<u64, Error> {
        if !self.synced.swap(true, std::sync::atomic::Ordering::Relaxed) {
            // With WAL (set once by the migrator; it stays with the file), NORMAL syncs at
            // checkpoints instead of at every commit: a commit costs no fsync, and an app
            // crash still loses nothing (a power loss may lose the last commits, never
            // corrupt). Set before the connection's first write only, so reads pay nothing.
            // Backends without PRAGMAs (libSQL remote) refuse it; that is fine.
            if let Ok(r) = self
                .conn
                .execute("PRAGMA synchronous = NORMAL", vec![])
                .await
            {
                let _ = r.result().await;
            }
        }
        let result = self
            .conn
            .execute(sql, params)
            .await
            .map_err(|e| Error::internal(format!("{e:?} in: {sql}")))?;
        result
            .result()
            .await
            .map_err(|e| Error::internal(format!("{e:?} in: {sql}")))?;
        Ok(self.conn.changes().await)
    }

    /// Runs a query and maps every row.
    pub async fn query<T: FromRow>(&self, sql: &str, params: Vec<Value>) -> Result<Vec<T>, Error> {
        let result = self
            .conn
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
