//! A thin typed layer over Spin's SQLite. Opening a [`Db`] applies pending migrations the
//! first time in each instance. One `Db` is one connection, used by one task at a time
//! (Spin may run several requests at once in one instance).
//!
//! A `Db` is moved, never shared between tasks: it is not `Clone`, no production code wraps
//! it in an `Arc` or `Rc` (a test in `crates/store` checks the sources), and work that runs
//! on a task of its own takes the connection by value and hands it back when done (chat's
//! `Stored`). Why: Spin runs a statement on a blocking thread that holds the connection's
//! lock, also while it waits for SQLite's write lock (up to 5 s), and other calls on the
//! connection take that lock on the instance's event loop, stalling every task of the
//! instance (seen as a 5 s deadlock). Within one task, reads (`SELECT` through `query`) may
//! run at once on a `Db` (`futures::join!`): their trips to the blocking threads overlap, and
//! the connection's lock takes them in turn.
//!
//! What a write changed is learnt from its `RETURNING` rows ([`Db::changed`]), never from
//! `changes()`: on Spin's libSQL backend that count is stale (see `changed`).
//!
//! A statement that finds the database locked by another writer is tried again, up to about
//! 5 s in all (what Spin's connections wait by default): each connection waits only
//! [`WAIT_MS`] per try, so a rate-limit count can give up quickly without two extra
//! statements around it to shorten and restore the wait (see [`Db::query_opt_briefly`]).
//!
//! A dropped `Db` leaves its connection idle in this instance for a later request, if it is
//! known clean (no transaction open, no statement cut off): a new connection reads the whole
//! schema on its first statement, which was a third of a small request's time. Nothing depends
//! on it: when globals do not survive, every request opens its own connection.

use super::migrate;
use crate::error::Error;
use spin_sdk::sqlite::{Connection, Value};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Idle connections of this instance: whether each is [configured](Db::configure), and since
/// when it is idle.
static IDLE: Mutex<Vec<(Connection, u8, Instant)>> = Mutex::new(Vec::new());
/// How long a connection may stay idle and still be used. A libSQL server (`sqld`, Turso)
/// expires a stream after 10 s without a request, and Spin's libSQL client then fails every
/// later statement on that connection; an instance that stays busy can keep a connection
/// idle that long behind newer ones.
const MAX_IDLE: Duration = Duration::from_secs(5);
/// As many as Spin runs requests at once in an instance; Spin allows 256 per instance.
const MAX_IDLE_CONNECTIONS: usize = 16;
/// How long one try of a statement waits for SQLite's write lock (`PRAGMA busy_timeout`,
/// set on every new connection). Writes take tens of microseconds, so only a long
/// transaction (a big import) holds the lock this long.
const WAIT_MS: u32 = 100;
/// Tries of a statement that keeps finding the database locked: 5 s in all, rusqlite's
/// `busy_timeout`, which Spin's connections keep and statements waited before.
const TRIES: u32 = 5_000 / WAIT_MS;

/// How a connection is set up ([`Db::configure`]): not yet; with a short wait for the write
/// lock per try (statements tried again); or the backend refused the PRAGMAs and keeps its own
/// wait (Spin's libSQL client refuses every PRAGMA before it reaches the server), so one try
/// waits as long as the backend does.
const UNCONFIGURED: u8 = 0;
const SHORT_WAITS: u8 = 1;
const OWN_WAITS: u8 = 2;

/// A statement's failure, and whether it was for want of the write lock (`SQLITE_BUSY`).
struct Failed {
    error: Error,
    locked: bool,
}

impl Failed {
    fn new(e: spin_sdk::sqlite::Error, sql: &str) -> Self {
        // Spin passes SQLite's message on (`Io`); "database is locked" is `SQLITE_BUSY`.
        let locked =
            matches!(&e, spin_sdk::sqlite::Error::Io(m) if m.contains("database is locked"));
        Self {
            error: Error::internal(format!("statement `{sql}`")).because(format!("{e:?}")),
            locked,
        }
    }
}

impl From<Error> for Failed {
    fn from(error: Error) -> Self {
        Self {
            error,
            locked: false,
        }
    }
}

pub struct Db {
    conn: Option<Connection>,
    /// [`Db::configure`] has run on this connection.
    /// [`UNCONFIGURED`], [`SHORT_WAITS`] or [`OWN_WAITS`].
    configured: AtomicU8,
    /// A transaction is open (`BEGIN` ran, no `COMMIT`/`ROLLBACK` has succeeded since).
    in_transaction: AtomicBool,
    /// Statements started and not seen to finish (a dropped future cuts one off).
    busy: AtomicU32,
}

impl Drop for Db {
    fn drop(&mut self) {
        if self.in_transaction.load(Ordering::Relaxed) || self.busy.load(Ordering::Relaxed) > 0 {
            return; // closed: SQLite rolls back whatever was left open
        }
        if let (Some(conn), Ok(mut idle)) = (self.conn.take(), IDLE.lock())
            && idle.len() < MAX_IDLE_CONNECTIONS
        {
            idle.push((
                conn,
                self.configured.load(Ordering::Relaxed),
                Instant::now(),
            ));
        }
    }
}

/// One result row, with values by column name.
pub struct Row<'a> {
    columns: &'a [String],
    values: &'a [Value],
}

impl<'a> Row<'a> {
    /// The value of `column` as a `T`.
    pub fn get<T: Column>(&self, column: &str) -> Result<T, Error> {
        T::read(self, column)
    }

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

/// The tries left to a statement (see [`TRIES`]). Inside a transaction only `BEGIN` is tried
/// again: a later statement holds the write lock already, and its failure is the
/// transaction's to handle.
struct Tries {
    left: u32,
}

impl Tries {
    fn new(db: &Db, sql: &str) -> Self {
        // An unconfigured connection (a read so far) waits SQLite's default 5 s in one try,
        // and so does every statement where the backend keeps its own wait (libSQL).
        let retried = db.configured.load(Ordering::Relaxed) == SHORT_WAITS
            && (!db.in_transaction.load(Ordering::Relaxed) || starts_with(sql, "BEGIN"));
        Self {
            left: if retried { TRIES } else { 1 },
        }
    }

    /// The parameters for the next try: the last one takes them, the others need them again.
    fn params(&mut self, params: &mut Vec<Value>) -> Vec<Value> {
        self.left = self.left.saturating_sub(1);
        if self.left == 0 {
            std::mem::take(params)
        } else {
            params.clone()
        }
    }

    /// Whether to try again after `failed`.
    fn again(&self, failed: &Failed) -> bool {
        failed.locked && self.left > 0
    }
}

/// Whether statement `sql` begins with `keyword` (any case).
fn starts_with(sql: &str, keyword: &str) -> bool {
    sql.trim_start()
        .get(..keyword.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(keyword))
}

/// A query's result, before its rows are read into a type.
struct Rows {
    columns: Vec<String>,
    rows: Vec<spin_sdk::sqlite::RowResult>,
}

impl Rows {
    fn map<T: FromRow>(&self) -> Result<Vec<T>, Error> {
        self.rows
            .iter()
            .map(|r| {
                T::from_row(&Row {
                    columns: &self.columns,
                    values: &r.values,
                })
            })
            .collect()
    }
}

/// A value of a row packed by [`Db::query_packed`], as SQLite's `json_array` wrote it.
fn unpacked(v: serde_json::Value) -> Result<Value, Error> {
    Ok(match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::String(s) => Value::Text(s),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        other => return Err(Error::internal("packed value").because(other)),
    })
}

/// A type read from one row.
pub trait FromRow: Sized {
    fn from_row(row: &Row<'_>) -> Result<Self, Error>;
}

/// A value read from one column ([`Row::get`]): an unexpected type or value is an internal
/// error naming the column.
pub trait Column: Sized {
    fn read(row: &Row<'_>, column: &str) -> Result<Self, Error>;
}

/// `Column` for the types [`Row`] reads itself: `type => method`.
macro_rules! column_by_type {
    ($($ty:ty => $method:ident),* $(,)?) => {
        $(impl Column for $ty {
            fn read(row: &Row<'_>, column: &str) -> Result<Self, Error> {
                row.$method(column)
            }
        })*
    };
}

column_by_type!(
    String => text,
    Option<String> => opt_text,
    i64 => int,
    Option<i64> => opt_int,
    f64 => real,
);

/// A value stored as text in a nullable column, read leniently: text that no longer parses
/// (say, one a later release's rules refuse) reads as none, as a NULL does. The type says how
/// to parse; `Option<T>` is then a [`Column`].
pub trait StoredText: Sized {
    fn from_stored(text: &str) -> Option<Self>;
}

impl<T: StoredText> Column for Option<T> {
    fn read(row: &Row<'_>, column: &str) -> Result<Self, Error> {
        Ok(row.opt_text(column)?.and_then(|t| T::from_stored(&t)))
    }
}

/// SQLite's booleans: an integer, true when not 0.
impl Column for bool {
    fn read(row: &Row<'_>, column: &str) -> Result<Self, Error> {
        Ok(row.int(column)? != 0)
    }
}

/// `Column` for the enums stored as their names (`parse`); another name is an error.
macro_rules! column_by_name {
    ($($ty:ty),* $(,)?) => {
        $(impl Column for $ty {
            fn read(row: &Row<'_>, column: &str) -> Result<Self, Error> {
                let stored = row.text(column)?;
                Self::parse(&stored).ok_or_else(|| unknown(column, &stored))
            }
        })*
    };
}

column_by_name!(crate::auth::Role, crate::auth::AccountStatus);

fn unknown(column: &str, stored: &str) -> Error {
    Error::internal(format!("column {column:?} has an unknown value {stored:?}"))
}

/// `impl FromRow` for a type read column by column: `from_columns!(Key { id, name })` reads
/// each field from the column of its name ([`Column`]); fields after `;` get the values given
/// (`from_columns!(Session { id; current: false })`); `from_columns!(Count(n))` reads a
/// one-field tuple struct from column `n`.
#[macro_export]
macro_rules! from_columns {
    ($ty:ident { $($field:ident),* $(,)? $(; $($other:ident : $value:expr),* $(,)?)? }) => {
        impl $crate::spin::FromRow for $ty {
            fn from_row(
                row: &$crate::spin::Row<'_>,
            ) -> ::std::result::Result<Self, $crate::Error> {
                Ok(Self {
                    $($field: row.get(stringify!($field))?,)*
                    $($($other: $value,)*)?
                })
            }
        }
    };
    ($ty:ident ( $($column:ident),+ )) => {
        impl $crate::spin::FromRow for $ty {
            fn from_row(
                row: &$crate::spin::Row<'_>,
            ) -> ::std::result::Result<Self, $crate::Error> {
                Ok(Self($(row.get(stringify!($column))?),+))
            }
        }
    };
}

impl Db {
    /// Opens the default database, migrated to this build's schema.
    pub async fn open() -> Result<Self, Error> {
        let reused = IDLE.lock().ok().and_then(|mut idle| {
            let now = Instant::now();
            idle.retain(|(_, _, since)| now.duration_since(*since) < MAX_IDLE);
            idle.pop().map(|(conn, configured, _)| (conn, configured))
        });
        Ok(Self::from_conn(match reused {
            Some(c) => c,
            None => Self::connect().await?,
        }))
    }

    /// A `Db` over `conn` (and how it is configured), with nothing open.
    fn from_conn((conn, configured): (Connection, u8)) -> Self {
        Self {
            conn: Some(conn),
            configured: AtomicU8::new(configured),
            in_transaction: AtomicBool::new(false),
            busy: AtomicU32::new(0),
        }
    }

    /// A new connection, migrated: its first statement reads the whole schema.
    async fn connect() -> Result<(Connection, u8), Error> {
        let conn = Connection::open_default()
            .await
            .map_err(|e| Error::internal("opening database").because(format!("{e:?}")))?;
        migrate::ensure(&conn).await?;
        Ok((conn, UNCONFIGURED))
    }

    /// Sets up this connection for writing, once (it stays in the instance, see `IDLE`):
    /// before its first write, so that a request that only reads (a chat send until Ollama
    /// is asked) does not wait for it. Backends without PRAGMAs (libSQL remote) refuse them
    /// and keep their own durability and timeouts: then a statement is tried once, waiting as
    /// long as the backend does for the write lock (a held lock costs 5 s, not 50 tries of it).
    /// - With WAL (set once by the migrator; it stays with the file), `synchronous = NORMAL`
    ///   syncs at checkpoints instead of at every commit: a commit costs no fsync, and an app
    ///   crash still loses nothing (a power loss may lose the last commits, never corrupt).
    ///   Without it, each commit's fsync holds the write lock for milliseconds.
    /// - A short wait for the write lock per try: statements are tried again instead (see
    ///   [`TRIES`]), and a rate-limit count gives up after one.
    async fn configure(&self) {
        // Taken at once (short waits until told otherwise): one task configures.
        if self
            .configured
            .compare_exchange(
                UNCONFIGURED,
                SHORT_WAITS,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return;
        }
        let Ok(conn) = self.conn() else {
            return;
        };
        let mut short_waits = false;
        for (pragma, is_wait) in [
            (
                chat_store::connection::SYNCHRONOUS_NORMAL.to_string(),
                false,
            ),
            (chat_store::connection::busy_timeout(WAIT_MS), true),
        ] {
            let done = match conn.execute(&pragma, vec![]).await {
                Ok(r) => r.collect().await.is_ok(),
                Err(_) => false,
            };
            short_waits |= is_wait && done;
        }
        if !short_waits {
            self.configured.store(OWN_WAITS, Ordering::Relaxed);
        }
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

    /// Runs a statement. It says nothing of how many rows it changed: Spin's libSQL backend
    /// answers `changes()` with a stale count, so a caller that needs to know what a write
    /// touched uses [`Db::changed`] (`RETURNING`) instead.
    pub async fn execute(&self, sql: &str, params: Vec<Value>) -> Result<(), Error> {
        self.configure().await;
        let mut params = params;
        let mut tries = Tries::new(self, sql);
        let done = loop {
            self.busy.fetch_add(1, Ordering::Relaxed);
            let done = self.execute_inner(sql, tries.params(&mut params)).await;
            self.busy.fetch_sub(1, Ordering::Relaxed);
            match done {
                Err(f) if tries.again(&f) => continue,
                done => break done.map_err(|f| f.error),
            }
        };
        if done.is_ok() {
            if starts_with(sql, "BEGIN") {
                self.in_transaction.store(true, Ordering::Relaxed);
            } else if ["COMMIT", "ROLLBACK", "END"]
                .iter()
                .any(|k| starts_with(sql, k))
            {
                self.in_transaction.store(false, Ordering::Relaxed);
            }
        }
        done
    }

    async fn execute_inner(&self, sql: &str, params: Vec<Value>) -> Result<(), Failed> {
        let result = self
            .conn()?
            .execute(sql, params)
            .await
            .map_err(|e| Failed::new(e, sql))?;
        result.result().await.map_err(|e| Failed::new(e, sql))
    }

    /// Runs a write that ends in `RETURNING …` and returns how many rows it changed (the rows
    /// it returned). This is how the app learns what a write did, on every backend: Spin's
    /// libSQL client updates the count behind `changes()` only for statements it sends
    /// through its `execute`, and Spin sends every statement through `query`, so there
    /// `changes()` answers 0 (or an older statement's count) after an `UPDATE`.
    pub async fn changed(&self, sql: &str, params: Vec<Value>) -> Result<u64, Error> {
        debug_assert!(
            sql.to_ascii_uppercase().contains("RETURNING"),
            "Db::changed needs a statement with RETURNING: {sql}"
        );
        self.configure().await;
        Ok(self.rows_tried(sql, params).await?.rows.len() as u64)
    }

    /// A query, tried again while the database is locked (see [`Tries`]).
    async fn rows_tried(&self, sql: &str, params: Vec<Value>) -> Result<Rows, Error> {
        let mut params = params;
        let mut tries = Tries::new(self, sql);
        loop {
            match self.rows(sql, tries.params(&mut params)).await {
                Err(f) if tries.again(&f) => continue,
                done => return done.map_err(|f| f.error),
            }
        }
    }

    /// Runs a query and maps every row.
    pub async fn query<T: FromRow>(&self, sql: &str, params: Vec<Value>) -> Result<Vec<T>, Error> {
        if !starts_with(sql, "SELECT") {
            self.configure().await; // a write (`INSERT … RETURNING`, `WITH …`)
        }
        self.rows_tried(sql, params).await?.map()
    }

    /// Like [`Db::query`] for a `SELECT` whose result has `columns` (names, comma-separated,
    /// as the statement's result names them), but SQLite packs all the rows into one
    /// (`json_group_array`) and the guest unpacks them. Spin hands a guest one row per
    /// stream read, through a channel of four fed by a blocking thread: ~25 µs of CPU per row
    /// here, most of a 20-row page's cost (issue 17). For many-row results on hot paths; the
    /// columns must not be blobs (JSON has none).
    pub async fn query_packed<T: FromRow>(
        &self,
        sql: &str,
        columns: &str,
        params: Vec<Value>,
    ) -> Result<Vec<T>, Error> {
        let names: Vec<String> = columns.split(',').map(|c| c.trim().to_string()).collect();
        let packed = chat_store::connection::packed(&names, sql);
        let rows = self.rows_tried(&packed, params).await?;
        let text = match rows.rows.first().and_then(|r| r.values.first()) {
            Some(Value::Text(t)) => t.as_str(),
            other => return Err(Error::internal("packed rows").because(format!("{other:?}"))),
        };
        let arrays: Vec<Vec<serde_json::Value>> =
            serde_json::from_str(text).map_err(|e| Error::internal("packed rows").because(e))?;
        arrays
            .into_iter()
            .map(|array| {
                let values: Vec<Value> =
                    array.into_iter().map(unpacked).collect::<Result<_, _>>()?;
                T::from_row(&Row {
                    columns: &names,
                    values: &values,
                })
            })
            .collect()
    }

    /// Like [`Db::query_opt`], but one try: when another writer holds the database for more
    /// than [`WAIT_MS`], it fails instead of waiting up to 5 s. For work that had better be
    /// skipped than stall the request (counting against a rate limit).
    pub async fn query_opt_briefly<T: FromRow>(
        &self,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Option<T>, Error> {
        self.configure().await;
        let rows = self.rows(sql, params).await.map_err(|f| f.error)?;
        Ok(rows.map()?.into_iter().next())
    }

    /// One try of a query (not generic, so its code is not repeated for every row type).
    async fn rows(&self, sql: &str, params: Vec<Value>) -> Result<Rows, Failed> {
        self.busy.fetch_add(1, Ordering::Relaxed);
        let rows = async {
            let result = self
                .conn()?
                .execute(sql, params)
                .await
                .map_err(|e| Failed::new(e, sql))?;
            let columns = result.columns().to_vec();
            let rows = result.collect().await.map_err(|e| Failed::new(e, sql))?;
            Ok(Rows { columns, rows })
        }
        .await;
        self.busy.fetch_sub(1, Ordering::Relaxed);
        rows
    }

    /// Starts a write transaction at once (`BEGIN IMMEDIATE`), so check-then-write sequences
    /// cannot interleave with another writer. End it with [`Db::commit`] or [`Db::rollback`].
    pub async fn begin(&self) -> Result<(), Error> {
        self.execute(chat_store::connection::BEGIN, vec![]).await
    }

    pub async fn commit(&self) -> Result<(), Error> {
        self.execute(chat_store::connection::COMMIT, vec![]).await
    }

    /// Best effort: used on error paths, where the original error matters more.
    pub async fn rollback(&self) {
        let _ = self.execute(chat_store::connection::ROLLBACK, vec![]).await;
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

struct Version(i64);

impl FromRow for Version {
    fn from_row(row: &Row<'_>) -> Result<Self, Error> {
        Ok(Self(row.opt_int("version")?.unwrap_or(0)))
    }
}

impl Db {
    /// The highest applied migration (for readiness and metrics).
    pub async fn schema_version(&self) -> Result<i64, Error> {
        let v: Option<Version> = self.query_opt(chat_store::schema::VERSION, vec![]).await?;
        Ok(v.map(|v| v.0).unwrap_or(0))
    }
}
