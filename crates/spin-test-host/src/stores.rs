//! The storage behind `spin:sqlite` and `spin:key-value`, as Spin's backends do it: every
//! `open` of a SQLite database gets its own connection to the database file (or its own
//! in-memory database when there is no state directory), or, for `type = "libsql"`, its own
//! client of Spin's libSQL backend (the `libsql` crate Spin uses, used as Spin uses it); each
//! key-value store label is a partition of one SQLite file (`spin_key_value` table) shared by
//! all instances, or, for `type = "redis"`, a Redis server reached as Spin's key-value-redis
//! does (the `redis` crate's ConnectionManager, made on the first open, keys as they are).

use crate::spin_apis::{kv, sqlite};
use rusqlite::types::{Value as SqlValue, ValueRef};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// Largest query result a guest can receive, as Spin's `MAX_HOST_BUFFERED_BYTES`.
const MAX_RESULT_BYTES: usize = 128 << 20;

#[derive(Debug, Clone)]
pub enum Location {
    InMemory,
    Path(PathBuf),
}

impl Location {
    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        match self {
            Location::InMemory => rusqlite::Connection::open_in_memory(),
            // Its directory was made at start-up (see `server::build_stores`).
            Location::Path(p) => rusqlite::Connection::open(p),
        }
    }
}

/// Where a SQLite database lives.
#[derive(Debug, Clone)]
pub enum Database {
    Local(Location),
    /// A libSQL server (`sqld`, Turso), reached over Hrana-over-HTTP.
    LibSql {
        url: String,
        token: String,
    },
}

/// All configured databases and key-value stores of one running app.
#[derive(Debug, Default)]
pub struct Stores {
    sqlite: HashMap<String, Database>,
    kv: HashMap<String, Arc<KvBackend>>,
    stats: Arc<QueryStats>,
}

/// How often each SQL statement ran and how long it took on the host (queue + execution).
#[derive(Debug, Default)]
pub struct QueryStats {
    by_statement: Mutex<HashMap<String, StatementStats>>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct StatementStats {
    pub count: u64,
    pub total: std::time::Duration,
}

impl QueryStats {
    fn record(&self, statement: &str, took: std::time::Duration) {
        let mut map = self.by_statement.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(statement.to_string()).or_default();
        entry.count += 1;
        entry.total += took;
    }

    /// A snapshot: statement text -> count and total time.
    pub fn snapshot(&self) -> HashMap<String, StatementStats> {
        self.by_statement
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn reset(&self) {
        self.by_statement
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

impl Stores {
    pub fn add_sqlite(&mut self, label: &str, database: Database) {
        self.sqlite.insert(label.to_string(), database);
    }

    pub fn add_kv(&mut self, label: &str, location: Location) {
        self.kv.insert(
            label.to_string(),
            Arc::new(KvBackend::Sqlite {
                location,
                conn: OnceLock::new(),
            }),
        );
    }

    /// A `type = "redis"` store at `url`.
    pub fn add_kv_redis(&mut self, label: &str, url: &str) {
        self.kv.insert(
            label.to_string(),
            Arc::new(KvBackend::Redis {
                url: url.to_string(),
                conn: tokio::sync::OnceCell::new(),
            }),
        );
    }

    pub fn sqlite_connection(&self, label: &str) -> Option<SqliteConnection> {
        self.sqlite.get(label).map(|database| SqliteConnection {
            database: database.clone(),
            conn: OnceLock::new(),
            remote: tokio::sync::OnceCell::new(),
            stats: self.stats.clone(),
        })
    }

    pub fn query_stats(&self) -> &QueryStats {
        &self.stats
    }

    pub fn kv_store(&self, label: &str) -> Option<KvStore> {
        self.kv.get(label).map(|backend| KvStore {
            label: label.to_string(),
            backend: backend.clone(),
        })
    }

    pub fn sqlite_database(&self, label: &str) -> Option<&Database> {
        self.sqlite.get(label)
    }
}

type Shared = Arc<Mutex<rusqlite::Connection>>;

fn lock(conn: &Shared) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
    conn.lock().unwrap_or_else(|e| e.into_inner())
}

/// As Spin's in-process SQLite (`allow_attach_file` is off unless a runtime config turns it on,
/// which the test host does not offer): `ATTACH` of a file is refused, of memory allowed. An
/// authorizer also costs a callback per action when each statement is prepared, as in Spin.
fn deny_attaching_files(c: &rusqlite::Connection) {
    use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
    c.authorizer(Some(|ctx: AuthContext<'_>| match ctx.action {
        AuthAction::Attach { filename } if !matches!(filename, "" | ":memory:") => {
            Authorization::Deny
        }
        _ => Authorization::Allow,
    }));
}

/// One guest-side `connection`: opened lazily on first use, like Spin's in-process SQLite and
/// its `LazyLibSqlConnection`.
pub struct SqliteConnection {
    database: Database,
    conn: OnceLock<Shared>,
    remote: tokio::sync::OnceCell<libsql::Connection>,
    stats: Arc<QueryStats>,
}

impl std::fmt::Debug for SqliteConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteConnection")
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl SqliteConnection {
    fn shared(&self) -> Result<Shared, sqlite::Error> {
        if let Some(c) = self.conn.get() {
            return Ok(c.clone());
        }
        let location = match &self.database {
            Database::Local(l) => l,
            Database::LibSql { .. } => return Err(sqlite::Error::InvalidConnection),
        };
        let c = location
            .open()
            .map_err(|e| sqlite::Error::Io(e.to_string()))?;
        deny_attaching_files(&c);
        Ok(self.conn.get_or_init(|| Arc::new(Mutex::new(c))).clone())
    }

    /// The libSQL client, created on first use as Spin does (a failure is `InvalidConnection`).
    async fn remote(&self, url: &str, token: &str) -> Result<&libsql::Connection, sqlite::Error> {
        self.remote
            .get_or_try_init(|| async {
                let db = libsql::Builder::new_remote(url.to_string(), token.to_string())
                    .build()
                    .await?;
                db.connect()
            })
            .await
            .map_err(|_| sqlite::Error::InvalidConnection)
    }

    /// A statement run to the end, all its rows at once (the non-streaming `execute`): the
    /// streamed run below, collected, with the statement's error as the result.
    pub async fn query(
        &self,
        statement: String,
        parameters: Vec<sqlite::Value>,
    ) -> Result<(Vec<String>, Vec<Vec<sqlite::Value>>), sqlite::Error> {
        let RowStream {
            columns,
            mut rows,
            done,
        } = self.query_streamed(statement, parameters).await?;
        let mut out = Vec::new();
        let mut size = 0usize;
        while let Some(values) = rows.recv().await {
            size += values.iter().map(value_size).sum::<usize>();
            if size > MAX_RESULT_BYTES {
                return Err(sqlite::Error::Io(format!(
                    "query result exceeds limit of {MAX_RESULT_BYTES} bytes"
                )));
            }
            out.push(values);
        }
        done.await.map_err(|e| sqlite::Error::Io(e.to_string()))??;
        Ok((columns, out))
    }

    /// A statement as Spin's `query_async` runs it for `execute`: the columns first (empty
    /// when the statement fails to start, the error then coming through `done`), then the rows
    /// one at a time through a channel of 4 while the statement runs (on a blocking thread
    /// holding the connection for local SQLite; on a task for libSQL), then the outcome.
    pub async fn query_streamed(
        &self,
        statement: String,
        parameters: Vec<sqlite::Value>,
    ) -> Result<RowStream, sqlite::Error> {
        let (cols_tx, cols_rx) = tokio::sync::oneshot::channel();
        let (rows_tx, rows) = tokio::sync::mpsc::channel(4);
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let stats = self.stats.clone();
        let started = std::time::Instant::now();
        let finish = move |statement: &str, result: &Result<(), sqlite::Error>, what: &str| {
            stats.record(statement, started.elapsed());
            crate::trace::event(|| {
                let error = result.as_ref().err().map(|e| format!(": {e:?}"));
                format!(
                    "{what} end   {} ({} µs){}",
                    crate::trace::short(statement, 40),
                    started.elapsed().as_micros(),
                    error.unwrap_or_default()
                )
            });
        };
        match &self.database {
            Database::LibSql { url, token } => {
                crate::trace::event(|| {
                    format!("libsql begin {}", crate::trace::short(&statement, 70))
                });
                let conn = self.remote(url, token).await?.clone();
                tokio::spawn(async move {
                    let result =
                        stream_remote(&conn, &statement, parameters, cols_tx, rows_tx).await;
                    finish(&statement, &result, "libsql");
                    let _ = done_tx.send(result);
                });
            }
            Database::Local(_) => {
                let conn = self.shared()?;
                crate::trace::event(|| {
                    format!("sqlite begin {}", crate::trace::short(&statement, 70))
                });
                tokio::task::spawn_blocking(move || {
                    let result =
                        stream_local(&lock(&conn), &statement, parameters, cols_tx, &rows_tx);
                    finish(&statement, &result, "sqlite");
                    let _ = done_tx.send(result);
                });
            }
        }
        let columns = cols_rx
            .await
            .map_err(|e| sqlite::Error::Io(e.to_string()))?;
        Ok(RowStream {
            columns,
            rows,
            done,
        })
    }

    pub async fn changes(&self) -> u64 {
        match &self.database {
            Database::LibSql { .. } => self.remote.get().map_or(0, libsql::Connection::changes),
            Database::Local(_) => match self.shared() {
                Ok(c) => lock(&c).changes(),
                Err(_) => 0,
            },
        }
    }

    pub async fn last_insert_rowid(&self) -> i64 {
        match &self.database {
            Database::LibSql { .. } => self
                .remote
                .get()
                .map_or(0, libsql::Connection::last_insert_rowid),
            Database::Local(_) => match self.shared() {
                Ok(c) => lock(&c).last_insert_rowid(),
                Err(_) => 0,
            },
        }
    }
}

fn to_libsql(v: sqlite::Value) -> libsql::Value {
    match v {
        sqlite::Value::Integer(i) => libsql::Value::Integer(i),
        sqlite::Value::Real(r) => libsql::Value::Real(r),
        sqlite::Value::Text(t) => libsql::Value::Text(t),
        sqlite::Value::Blob(b) => libsql::Value::Blob(b),
        sqlite::Value::Null => libsql::Value::Null,
    }
}

fn from_libsql(v: libsql::Value) -> sqlite::Value {
    match v {
        libsql::Value::Null => sqlite::Value::Null,
        libsql::Value::Integer(i) => sqlite::Value::Integer(i),
        libsql::Value::Real(r) => sqlite::Value::Real(r),
        libsql::Value::Text(t) => sqlite::Value::Text(t),
        libsql::Value::Blob(b) => sqlite::Value::Blob(b),
    }
}

fn io(e: rusqlite::Error) -> sqlite::Error {
    sqlite::Error::Io(e.to_string())
}

/// What `execute` hands the guest: the columns, the rows as they come, and the outcome.
pub struct RowStream {
    pub columns: Vec<String>,
    pub rows: tokio::sync::mpsc::Receiver<Vec<sqlite::Value>>,
    pub done: tokio::sync::oneshot::Receiver<Result<(), sqlite::Error>>,
}

type ColumnsTx = tokio::sync::oneshot::Sender<Vec<String>>;
type RowsTx = tokio::sync::mpsc::Sender<Vec<sqlite::Value>>;

fn row_too_large(values: &[sqlite::Value]) -> Option<sqlite::Error> {
    (values.iter().map(value_size).sum::<usize>() > MAX_RESULT_BYTES).then(|| {
        sqlite::Error::Io(format!(
            "query result exceeds limit of {MAX_RESULT_BYTES} bytes"
        ))
    })
}

fn stream_local(
    conn: &rusqlite::Connection,
    statement: &str,
    parameters: Vec<sqlite::Value>,
    cols_tx: ColumnsTx,
    rows_tx: &RowsTx,
) -> Result<(), sqlite::Error> {
    let mut stmt = match conn.prepare_cached(statement) {
        Ok(s) => s,
        Err(e) => {
            let _ = cols_tx.send(Vec::new());
            return Err(io(e));
        }
    };
    let columns: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
    let count = columns.len();
    cols_tx
        .send(columns)
        .map_err(|_| sqlite::Error::Io("column send error".into()))?;
    let params: Vec<SqlValue> = parameters.into_iter().map(to_sql).collect();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params.iter()))
        .map_err(io)?;
    while let Some(row) = rows.next().map_err(io)? {
        let values = (0..count)
            .map(|i| row.get_ref(i).map(from_sql))
            .collect::<Result<Vec<_>, _>>()
            .map_err(io)?;
        if let Some(e) = row_too_large(&values) {
            return Err(e);
        }
        rows_tx
            .blocking_send(values)
            .map_err(|_| sqlite::Error::Io("row send error".into()))?;
    }
    Ok(())
}

async fn stream_remote(
    conn: &libsql::Connection,
    statement: &str,
    parameters: Vec<sqlite::Value>,
    cols_tx: ColumnsTx,
    rows_tx: RowsTx,
) -> Result<(), sqlite::Error> {
    let io = |e: libsql::Error| sqlite::Error::Io(e.to_string());
    let params: Vec<libsql::Value> = parameters.into_iter().map(to_libsql).collect();
    let mut rows = match conn.query(statement, params).await {
        Ok(r) => r,
        Err(e) => {
            let _ = cols_tx.send(Vec::new());
            return Err(io(e));
        }
    };
    let count = rows.column_count();
    let columns = (0..count)
        .map(|i| rows.column_name(i).unwrap_or("").to_string())
        .collect();
    cols_tx
        .send(columns)
        .map_err(|_| sqlite::Error::Io("column send error".into()))?;
    while let Some(row) = rows.next().await.map_err(io)? {
        let values = (0..count)
            .map(|i| row.get_value(i).map(from_libsql))
            .collect::<Result<Vec<_>, _>>()
            .map_err(io)?;
        if let Some(e) = row_too_large(&values) {
            return Err(e);
        }
        rows_tx
            .send(values)
            .await
            .map_err(|_| sqlite::Error::Io("row send error".into()))?;
    }
    Ok(())
}

fn to_sql(v: sqlite::Value) -> SqlValue {
    match v {
        sqlite::Value::Integer(i) => SqlValue::Integer(i),
        sqlite::Value::Real(r) => SqlValue::Real(r),
        sqlite::Value::Text(t) => SqlValue::Text(t),
        sqlite::Value::Blob(b) => SqlValue::Blob(b),
        sqlite::Value::Null => SqlValue::Null,
    }
}

fn from_sql(v: ValueRef<'_>) -> sqlite::Value {
    match v {
        ValueRef::Null => sqlite::Value::Null,
        ValueRef::Integer(i) => sqlite::Value::Integer(i),
        ValueRef::Real(r) => sqlite::Value::Real(r),
        ValueRef::Text(t) => sqlite::Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => sqlite::Value::Blob(b.to_vec()),
    }
}

fn value_size(v: &sqlite::Value) -> usize {
    std::mem::size_of::<sqlite::Value>()
        + match v {
            sqlite::Value::Text(t) => t.len(),
            sqlite::Value::Blob(b) => b.len(),
            _ => 0,
        }
}

/// A key-value store's backend: one SQLite file whose labels are partitions of its
/// `spin_key_value` table, or a Redis server.
pub enum KvBackend {
    Sqlite {
        location: Location,
        conn: OnceLock<Shared>,
    },
    Redis {
        url: String,
        conn: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    },
}

impl std::fmt::Debug for KvBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvBackend::Sqlite { location, .. } => write!(f, "KvBackend::Sqlite({location:?})"),
            KvBackend::Redis { url, .. } => write!(f, "KvBackend::Redis({url})"),
        }
    }
}

impl KvBackend {
    fn shared(&self) -> Result<Shared, kv::Error> {
        let KvBackend::Sqlite { location, conn } = self else {
            return Err(kv::Error::Other("not a SQLite store".into()));
        };
        if let Some(c) = conn.get() {
            return Ok(c.clone());
        }
        let c = location.open().map_err(kv_err)?;
        c.execute(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
                store TEXT NOT NULL,
                key   TEXT NOT NULL,
                value BLOB NOT NULL,
                PRIMARY KEY (store, key)
            )",
            [],
        )
        .map_err(kv_err)?;
        Ok(conn.get_or_init(|| Arc::new(Mutex::new(c))).clone())
    }

    /// The Redis connection, made on the first open of any store on it (as Spin's
    /// `KeyValueRedis::get`): a failure to connect fails that open.
    async fn redis(&self) -> Result<Option<redis::aio::ConnectionManager>, kv::Error> {
        let KvBackend::Redis { url, conn } = self else {
            return Ok(None);
        };
        let c = conn
            .get_or_try_init(|| async {
                redis::Client::open(url.as_str())?
                    .get_connection_manager()
                    .await
            })
            .await
            .map_err(redis_err)?;
        Ok(Some(c.clone()))
    }
}

fn kv_err(e: rusqlite::Error) -> kv::Error {
    kv::Error::Other(e.to_string())
}

fn redis_err(e: redis::RedisError) -> kv::Error {
    kv::Error::Other(e.to_string())
}

#[derive(Debug, Clone)]
pub struct KvStore {
    label: String,
    backend: Arc<KvBackend>,
}

impl KvStore {
    /// What Spin does when a guest opens the store: for Redis, connect (once per backend) and
    /// ping, ignoring the ping's failure (the ConnectionManager reconnects in the background).
    pub async fn opened(&self) -> Result<(), kv::Error> {
        if let Some(mut c) = self.backend.redis().await? {
            let _: Result<(), _> = redis::AsyncCommands::ping(&mut c).await;
        }
        Ok(())
    }

    /// Runs `f` on the store's connection in place, as Spin's key-value store does
    /// (`block_in_place`: the worker thread hands its other tasks off and blocks, without the
    /// hop to a blocking thread that SQLite statements take). A current-thread runtime (some
    /// tests) cannot hand tasks off, so there it simply runs.
    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection, &str) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, kv::Error> {
        let conn = self.backend.shared()?;
        let started = std::time::Instant::now();
        let work = || f(&lock(&conn), &self.label).map_err(kv_err);
        let r = match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
            _ => work(),
        };
        crate::trace::event(|| format!("kv end ({} µs)", started.elapsed().as_micros()));
        r
    }

    pub async fn get(&self, key: String) -> Result<Option<Vec<u8>>, kv::Error> {
        if let Some(mut c) = self.backend.redis().await? {
            let value: Option<Vec<u8>> = redis::AsyncCommands::get(&mut c, &key)
                .await
                .map_err(redis_err)?;
            // Spin's limit on what a guest may receive.
            if value.as_ref().map_or(0, Vec::len) > MAX_RESULT_BYTES {
                return Err(kv::Error::Other(format!(
                    "query result exceeds limit of {MAX_RESULT_BYTES} bytes"
                )));
            }
            return Ok(value);
        }
        self.run(move |c, store| {
            c.prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .query_map(rusqlite::params![store, key], |r| r.get::<_, Vec<u8>>(0))?
                .next()
                .transpose()
        })
        .await
    }

    pub async fn set(&self, key: String, value: Vec<u8>) -> Result<(), kv::Error> {
        if let Some(mut c) = self.backend.redis().await? {
            return redis::AsyncCommands::set(&mut c, &key, value)
                .await
                .map_err(redis_err);
        }
        self.run(move |c, store| {
            c.prepare_cached(
                "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT(store, key) DO UPDATE SET value = ?3",
            )?
            .execute(rusqlite::params![store, key, value])
            .map(|_| ())
        })
        .await
    }

    pub async fn delete(&self, key: String) -> Result<(), kv::Error> {
        if let Some(mut c) = self.backend.redis().await? {
            return redis::AsyncCommands::del(&mut c, &key)
                .await
                .map_err(redis_err);
        }
        self.run(move |c, store| {
            c.prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .execute(rusqlite::params![store, key])
                .map(|_| ())
        })
        .await
    }

    pub async fn exists(&self, key: String) -> Result<bool, kv::Error> {
        if let Some(mut c) = self.backend.redis().await? {
            return redis::AsyncCommands::exists(&mut c, &key)
                .await
                .map_err(redis_err);
        }
        Ok(self.get(key).await?.is_some())
    }

    pub async fn keys(&self) -> Result<Vec<String>, kv::Error> {
        if let Some(mut c) = self.backend.redis().await? {
            return redis::AsyncCommands::keys(&mut c, "*")
                .await
                .map_err(redis_err);
        }
        self.run(move |c, store| {
            c.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1")?
                .query_map(rusqlite::params![store], |r| r.get::<_, String>(0))?
                .collect()
        })
        .await
    }
}

// ---- wasi:keyvalue atomics and batch, as Spin's stores implement them ----

/// A compare-and-swap begun on one key ([`KvStore::new_cas`]), as Spin's stores make them: on
/// SQLite, the value read by [`current`](Cas::current) is the one `swap` expects; on Redis, a
/// connection of its own that `WATCH`es the key.
pub struct Cas {
    key: String,
    store: KvStore,
    kind: CasKind,
}

enum CasKind {
    Sqlite(Mutex<Option<Vec<u8>>>),
    Redis(redis::aio::ConnectionManager),
}

impl std::fmt::Debug for Cas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cas({:?} in {:?})", self.key, self.store.label)
    }
}

/// Why a swap did not happen: the value changed since `current` (a new CAS is then offered),
/// or the store failed.
#[derive(Debug)]
pub enum SwapError {
    CasFailed,
    Other(String),
}

impl KvStore {
    /// `increment` as Spin's stores do it. Redis: `INCRBY` (the value is decimal text). SQLite:
    /// in a transaction, read the value as an 8-byte little-endian integer (0 if absent), add,
    /// write it back as 8 bytes. A value of another length makes Spin's host panic
    /// (`expect("incorrect length")`, the connection is dropped); so does this one.
    pub async fn increment(&self, key: String, delta: i64) -> Result<i64, kv::Error> {
        if let Some(mut c) = self.backend.redis().await? {
            return redis::AsyncCommands::incr(&mut c, &key, delta)
                .await
                .map_err(redis_err);
        }
        self.run(move |c, store| {
            let tx = c.unchecked_transaction()?;
            let old: Option<Vec<u8>> = tx
                .prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .query_map(rusqlite::params![store, key], |r| r.get::<_, Vec<u8>>(0))?
                .next()
                .transpose()?;
            let old = match old {
                #[allow(clippy::expect_used)] // Spin's behaviour, on purpose (see above).
                Some(v) => i64::from_le_bytes(v.try_into().expect("incorrect length")),
                None => 0,
            };
            let new = old + delta;
            tx.prepare_cached(
                "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT(store, key) DO UPDATE SET value = ?3",
            )?
            .execute(rusqlite::params![store, key, new.to_le_bytes()])?;
            tx.commit()?;
            Ok(new)
        })
        .await
    }

    /// Begins a compare-and-swap on `key`. On Redis, a new connection for it (Spin: "Redis
    /// transactions are scoped to a connection").
    pub async fn new_cas(&self, key: String) -> Result<Cas, kv::Error> {
        let kind = match self.backend.as_ref() {
            KvBackend::Redis { url, .. } => CasKind::Redis(
                redis::Client::open(url.as_str())
                    .map_err(redis_err)?
                    .get_connection_manager()
                    .await
                    .map_err(redis_err)?,
            ),
            KvBackend::Sqlite { .. } => CasKind::Sqlite(Mutex::new(None)),
        };
        Ok(Cas {
            key,
            store: self.clone(),
            kind,
        })
    }

    pub async fn get_many(
        &self,
        keys: Vec<String>,
    ) -> Result<Vec<(String, Option<Vec<u8>>)>, kv::Error> {
        if let Some(mut c) = self.backend.redis().await? {
            let values: Vec<Option<Vec<u8>>> = redis::AsyncCommands::mget(&mut c, &keys)
                .await
                .map_err(redis_err)?;
            return Ok(keys.into_iter().zip(values).collect());
        }
        // Spin answers only the keys it finds; it never lists a missing key with `None`.
        self.run(move |c, store| {
            let mut found = Vec::new();
            let mut stmt = c.prepare_cached(
                "SELECT key, value FROM spin_key_value WHERE store = ?1 AND key = ?2",
            )?;
            for key in keys {
                let rows = stmt.query_map(rusqlite::params![store, key], |r| {
                    Ok((r.get::<_, String>(0)?, Some(r.get::<_, Vec<u8>>(1)?)))
                })?;
                for row in rows {
                    found.push(row?);
                }
            }
            Ok(found)
        })
        .await
    }

    pub async fn set_many(&self, pairs: Vec<(String, Vec<u8>)>) -> Result<(), kv::Error> {
        if let Some(mut c) = self.backend.redis().await? {
            return redis::AsyncCommands::mset(&mut c, &pairs)
                .await
                .map_err(redis_err);
        }
        self.run(move |c, store| {
            let tx = c.unchecked_transaction()?;
            for (key, value) in pairs {
                tx.prepare_cached(
                    "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT(store, key) DO UPDATE SET value = ?3",
                )?
                .execute(rusqlite::params![store, key, value])?;
            }
            tx.commit()
        })
        .await
    }

    pub async fn delete_many(&self, keys: Vec<String>) -> Result<(), kv::Error> {
        if let Some(mut c) = self.backend.redis().await? {
            return redis::AsyncCommands::del(&mut c, &keys)
                .await
                .map_err(redis_err);
        }
        self.run(move |c, store| {
            let mut stmt =
                c.prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?;
            for key in keys {
                stmt.execute(rusqlite::params![store, key])?;
            }
            Ok(())
        })
        .await
    }
}

impl Cas {
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn store(&self) -> &KvStore {
        &self.store
    }

    /// The key's value now. Redis: `WATCH`, then `GET`, on the CAS's connection. SQLite: a
    /// read, remembered as what `swap` expects.
    pub async fn current(&self) -> Result<Option<Vec<u8>>, kv::Error> {
        let value = match &self.kind {
            CasKind::Redis(c) => {
                redis::cmd("WATCH")
                    .arg(&self.key)
                    .exec_async(&mut c.clone())
                    .await
                    .map_err(redis_err)?;
                redis::AsyncCommands::get(&mut c.clone(), &self.key)
                    .await
                    .map_err(redis_err)?
            }
            CasKind::Sqlite(seen) => {
                let value = self.store.get(self.key.clone()).await?;
                if let Ok(mut s) = seen.lock() {
                    s.clone_from(&value);
                }
                value
            }
        };
        if value.as_ref().map_or(0, Vec::len) > MAX_RESULT_BYTES {
            return Err(kv::Error::Other(format!(
                "query result exceeds limit of {MAX_RESULT_BYTES} bytes"
            )));
        }
        Ok(value)
    }

    /// Writes `value` if the key still holds what `current` read, as Spin does it. Redis:
    /// `MULTI`/`SET`/`EXEC` on the watching connection, then `UNWATCH <key>`. Two faults of
    /// Spin's come with it, kept here: redis-rs reads an `EXEC` that Redis refused (the key
    /// changed) as success, and `UNWATCH` takes no argument, so Redis answers it with an error
    /// and every swap reports a failed CAS, whether or not it wrote. SQLite: an `UPDATE ... WHERE value = <what current read>`,
    /// failed unless it changed one row; a key that was absent is upserted (a racing writer
    /// is overwritten, as in Spin).
    pub async fn swap(&self, value: Vec<u8>) -> Result<(), SwapError> {
        match &self.kind {
            CasKind::Redis(c) => {
                let set: Result<(), redis::RedisError> = redis::pipe()
                    .atomic()
                    .set(&self.key, value)
                    .query_async(&mut c.clone())
                    .await;
                redis::cmd("UNWATCH")
                    .arg(&self.key)
                    .exec_async(&mut c.clone())
                    .await
                    .map_err(|_| SwapError::CasFailed)?;
                set.map_err(|_| SwapError::CasFailed)
            }
            CasKind::Sqlite(seen) => {
                let old = seen.lock().map(|s| s.clone()).unwrap_or(None);
                let key = self.key.clone();
                let changed = self
                    .store
                    .run(move |c, store| match old {
                        Some(old) => c
                            .prepare_cached(
                                "UPDATE spin_key_value SET value = ?4
                                 WHERE store = ?1 AND key = ?2 AND value = ?3",
                            )?
                            .execute(rusqlite::params![store, key, old, value]),
                        None => c
                            .prepare_cached(
                                "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                                 ON CONFLICT(store, key) DO UPDATE SET value = ?3",
                            )?
                            .execute(rusqlite::params![store, key, value]),
                    })
                    .await
                    .map_err(|e| SwapError::Other(format!("{e:?}")))?;
                if changed == 1 {
                    Ok(())
                } else {
                    Err(SwapError::CasFailed)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_support::redis_server::RedisServer;

    fn sqlite_store() -> KvStore {
        let mut stores = Stores::default();
        stores.add_kv("default", Location::InMemory);
        stores
            .kv_store("default")
            .unwrap_or_else(|| panic!("no store"))
    }

    async fn redis_store(server: &RedisServer) -> KvStore {
        let mut stores = Stores::default();
        stores.add_kv_redis("default", &server.url());
        let store = stores
            .kv_store("default")
            .unwrap_or_else(|| panic!("no store"));
        store.opened().await.unwrap_or_else(|e| panic!("{e:?}"));
        store
    }

    async fn ok<T>(r: Result<T, kv::Error>) -> T {
        r.unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_database_may_attach_memory_but_not_a_file_as_in_spin() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut stores = Stores::default();
        stores.add_sqlite(
            "default",
            Database::Local(Location::Path(dir.path().join("db.sqlite"))),
        );
        let conn = stores
            .sqlite_connection("default")
            .unwrap_or_else(|| panic!("no database"));
        let file = dir.path().join("other.sqlite");
        let attach_file = format!("ATTACH DATABASE '{}' AS other", file.display());
        let refused = conn.query(attach_file, vec![]).await;
        assert!(refused.is_err(), "{refused:?}");
        assert!(!file.exists(), "nothing was created");
        let memory = conn
            .query("ATTACH DATABASE ':memory:' AS scratch".into(), vec![])
            .await;
        assert!(memory.is_ok(), "{memory:?}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn sqlite_increment_counts_in_eight_little_endian_bytes_as_spin() {
        let store = sqlite_store();
        assert_eq!(ok(store.increment("n".into(), 5).await).await, 5);
        assert_eq!(ok(store.increment("n".into(), -2).await).await, 3);
        // What a `get` then sees is Spin's encoding, not text.
        let raw = ok(store.get("n".into()).await).await;
        assert_eq!(raw, Some(3i64.to_le_bytes().to_vec()));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn sqlite_cas_fails_when_the_value_changed_since_current() {
        let store = sqlite_store();
        ok(store.set("k".into(), b"a".to_vec()).await).await;
        let cas = ok(store.new_cas("k".into()).await).await;
        assert_eq!(ok(cas.current().await).await, Some(b"a".to_vec()));
        ok(store.set("k".into(), b"b".to_vec()).await).await;
        assert!(matches!(
            cas.swap(b"c".to_vec()).await,
            Err(SwapError::CasFailed)
        ));
        assert_eq!(ok(store.get("k".into()).await).await, Some(b"b".to_vec()));

        let again = ok(store.new_cas("k".into()).await).await;
        ok(again.current().await).await;
        assert!(again.swap(b"c".to_vec()).await.is_ok());
        assert_eq!(ok(store.get("k".into()).await).await, Some(b"c".to_vec()));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn sqlite_batch_reads_only_the_keys_it_finds() {
        let store = sqlite_store();
        ok(store
            .set_many(vec![
                ("a".into(), b"1".to_vec()),
                ("b".into(), b"2".to_vec()),
            ])
            .await)
        .await;
        let got = ok(store
            .get_many(vec!["a".into(), "zz".into(), "b".into()])
            .await)
        .await;
        assert_eq!(
            got,
            vec![
                ("a".to_string(), Some(b"1".to_vec())),
                ("b".to_string(), Some(b"2".to_vec()))
            ]
        );
        ok(store.delete_many(vec!["a".into(), "b".into()]).await).await;
        assert!(ok(store.keys().await).await.is_empty());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn redis_increment_and_cas_behave_as_spins_redis_store() {
        let Some(server) = RedisServer::start()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"))
        else {
            eprintln!("skipped: redis-server is not installed");
            return;
        };
        let store = redis_store(&server).await;
        assert_eq!(ok(store.increment("n".into(), 5).await).await, 5);
        assert_eq!(ok(store.increment("n".into(), -2).await).await, 3);
        // INCRBY keeps decimal text.
        assert_eq!(ok(store.get("n".into()).await).await, Some(b"3".to_vec()));

        ok(store.set("k".into(), b"a".to_vec()).await).await;
        let cas = ok(store.new_cas("k".into()).await).await;
        assert_eq!(ok(cas.current().await).await, Some(b"a".to_vec()));
        ok(store.set("k".into(), b"b".to_vec()).await).await;
        let swapped = cas.swap(b"c".to_vec()).await;
        // Redis refuses the EXEC (the watched key changed): the write does not happen.
        assert_eq!(ok(store.get("k".into()).await).await, Some(b"b".to_vec()));
        assert!(matches!(swapped, Err(SwapError::CasFailed)), "{swapped:?}");
        // Without a conflict the write happens, and Spin still reports a failed CAS (its
        // `UNWATCH <key>` is refused by Redis): a guest cannot tell the two apart on Redis.
        let again = ok(store.new_cas("k".into()).await).await;
        assert_eq!(ok(again.current().await).await, Some(b"b".to_vec()));
        let swapped = again.swap(b"c".to_vec()).await;
        assert_eq!(ok(store.get("k".into()).await).await, Some(b"c".to_vec()));
        assert!(matches!(swapped, Err(SwapError::CasFailed)), "{swapped:?}");
    }
}
