//! A libSQL server for tests: Hrana 3 over HTTP (`POST /v3/pipeline`, `POST /v3/cursor`), the
//! protocol `sqld` (and Turso) speaks and Spin's libSQL backend uses, on top of a SQLite file.
//! With it the test host runs Spin's own client code (the `libsql` crate, same version) against
//! a server, so what differs on libSQL (every statement a round trip, `changes()` as that
//! client reports it, transactions held on a stream by a baton) shows in the black-box suite.
//!
//! Like `sqld`: each stream is one SQLite connection; a request without a baton opens a stream;
//! every answer carries the baton for the next request until the stream is closed; a baton is
//! good for one request only; a stream idle for 10 s expires, and its baton then gets an error.
//! Not modelled: replication, namespaces, the WebSocket variant, protobuf bodies, `sqld`'s own
//! error codes beyond the few below (SQLite's message is passed on as sqld does).

use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use libsql_hrana::proto::{
    Batch, BatchCond, BatchResult, BatchStreamResp, Col, CursorEntry, CursorReqBody,
    CursorRespBody, DescribeCol, DescribeParam, DescribeResult, DescribeStreamResp, Error,
    ExecuteStreamResp, GetAutocommitStreamResp, PipelineReqBody, PipelineRespBody, Row,
    StepBeginEntry, StepEndEntry, StepErrorEntry, Stmt, StmtResult, StreamRequest, StreamResponse,
    StreamResult, Value,
};
use spin_test_host::listen::{Connections, accept_loop};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// How long a stream lives without a request (`sqld`'s `EXPIRATION`).
pub const STREAM_EXPIRY: Duration = Duration::from_secs(10);

/// A running server; stops when dropped.
pub struct HranaServer {
    addr: SocketAddr,
    path: PathBuf,
    token: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HranaServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HranaServer {
    /// Serves the SQLite database at `path` on 127.0.0.1 (a free port), for clients that send
    /// `Authorization: Bearer <token>`.
    pub async fn start(path: &Path, token: &str) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            path: path.to_path_buf(),
            auth: format!("Bearer {token}"),
            streams: Mutex::new(HashMap::new()),
            next_id: Mutex::new(1),
        });
        let how = Connections {
            nodelay: false,
            http2: false,
        };
        let task = tokio::spawn(accept_loop(listener, how, move |req, _| {
            handle(state.clone(), req)
        }));
        Ok(Self {
            addr,
            path: path.to_path_buf(),
            token: token.to_string(),
            task,
        })
    }

    /// The URL for `[sqlite_database.x] type = "libsql"`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// The SQLite file behind it.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

struct State {
    path: PathBuf,
    auth: String,
    streams: Mutex<HashMap<u64, Slot>>,
    next_id: Mutex<u64>,
}

enum Slot {
    Available {
        stream: Box<Stream>,
        since: Instant,
    },
    /// In use by a request.
    Acquired,
    Expired,
}

struct Stream {
    conn: rusqlite::Connection,
    sqls: HashMap<i32, String>,
    /// The sequence number the next baton must carry.
    seq: u64,
}

/// Why a request failed as a whole (an HTTP error, as sqld answers).
struct Refused(StatusCode, String);

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r
    };
    let authorized = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == state.auth.as_bytes());
    if !authorized {
        return reply(StatusCode::UNAUTHORIZED, "Unauthorized".into());
    }
    let path = req.uri().path().to_string();
    let Ok(body) = req.into_body().collect().await.map(|b| b.to_bytes()) else {
        return reply(StatusCode::BAD_REQUEST, "unreadable body".into());
    };
    let work = move || match path.as_str() {
        "/v3/pipeline" | "/v2/pipeline" => pipeline(&state, &body),
        "/v3/cursor" => cursor(&state, &body),
        other => Err(Refused(StatusCode::NOT_FOUND, format!("no route {other}"))),
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(text)) => reply(StatusCode::OK, text),
        Ok(Err(Refused(status, message))) => reply(
            status,
            serde_json::json!({ "message": message }).to_string(),
        ),
        Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn bad(message: impl std::fmt::Display) -> Refused {
    Refused(StatusCode::BAD_REQUEST, message.to_string())
}

/// The stream a baton names (taking it for this request), or a new one.
fn acquire(state: &State, baton: Option<&str>) -> Result<(u64, Box<Stream>), Refused> {
    let Some(baton) = baton else {
        let conn = rusqlite::Connection::open(&state.path).map_err(bad)?;
        let id = {
            let mut next = state.next_id.lock().unwrap_or_else(|e| e.into_inner());
            *next += 1;
            *next
        };
        lock(&state.streams).insert(id, Slot::Acquired);
        let stream = Stream {
            conn,
            sqls: HashMap::new(),
            seq: 0,
        };
        return Ok((id, Box::new(stream)));
    };
    let (id, seq) = baton
        .split_once('.')
        .and_then(|(i, s)| Some((i.parse::<u64>().ok()?, s.parse::<u64>().ok()?)))
        .ok_or_else(|| bad("Baton is invalid"))?;
    let mut streams = lock(&state.streams);
    let slot = streams
        .get_mut(&id)
        .ok_or_else(|| bad("Stream handle was not found (invalid baton)"))?;
    match std::mem::replace(slot, Slot::Acquired) {
        Slot::Available { stream, since } if since.elapsed() >= STREAM_EXPIRY => {
            *slot = Slot::Expired;
            drop(stream);
            Err(bad("The stream has expired due to inactivity"))
        }
        Slot::Available { stream, .. } if stream.seq != seq => {
            *slot = Slot::Available {
                stream,
                since: Instant::now(),
            };
            Err(bad("Baton has already been used (out of sequence)"))
        }
        Slot::Available { mut stream, .. } => {
            stream.seq += 1;
            Ok((id, stream))
        }
        Slot::Acquired => Err(bad("Baton is in use by another request")),
        Slot::Expired => {
            *slot = Slot::Expired;
            Err(bad("The stream has expired due to inactivity"))
        }
    }
}

/// Gives the stream back (or forgets it, once closed); the baton for the next request.
fn release(state: &State, id: u64, stream: Option<Box<Stream>>) -> Option<String> {
    let mut streams = lock(&state.streams);
    match stream {
        Some(stream) => {
            let baton = format!("{id}.{}", stream.seq);
            streams.insert(
                id,
                Slot::Available {
                    stream,
                    since: Instant::now(),
                },
            );
            Some(baton)
        }
        None => {
            streams.remove(&id);
            None
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn pipeline(state: &State, body: &[u8]) -> Result<String, Refused> {
    let req: PipelineReqBody = serde_json::from_slice(body).map_err(bad)?;
    let (id, stream) = acquire(state, req.baton.as_deref())?;
    let mut stream = Some(stream);
    let mut results = Vec::with_capacity(req.requests.len());
    for request in req.requests {
        let Some(s) = stream.as_mut() else {
            results.push(StreamResult::Error {
                error: error("the stream is closed", "STREAM_CLOSED"),
            });
            continue;
        };
        if let StreamRequest::Close(_) = request {
            stream = None;
            results.push(StreamResult::Ok {
                response: StreamResponse::Close(Default::default()),
            });
            continue;
        }
        results.push(match run_request(s, request) {
            Ok(response) => StreamResult::Ok { response },
            Err(error) => StreamResult::Error { error },
        });
    }
    let baton = release(state, id, stream);
    let resp = PipelineRespBody {
        baton,
        base_url: None,
        results,
    };
    serde_json::to_string(&resp).map_err(bad)
}

fn run_request(s: &mut Stream, request: StreamRequest) -> Result<StreamResponse, Error> {
    Ok(match request {
        StreamRequest::Execute(r) => StreamResponse::Execute(ExecuteStreamResp {
            result: execute(s, &r.stmt)?,
        }),
        StreamRequest::Batch(r) => StreamResponse::Batch(BatchStreamResp {
            result: batch(s, &r.batch),
        }),
        StreamRequest::Sequence(r) => {
            let sql = sql_text(s, r.sql.as_deref(), r.sql_id)?;
            s.conn.execute_batch(&sql).map_err(sql_error)?;
            StreamResponse::Sequence(Default::default())
        }
        StreamRequest::Describe(r) => {
            let sql = sql_text(s, r.sql.as_deref(), r.sql_id)?;
            StreamResponse::Describe(DescribeStreamResp {
                result: describe(&s.conn, &sql)?,
            })
        }
        StreamRequest::StoreSql(r) => {
            s.sqls.insert(r.sql_id, r.sql);
            StreamResponse::StoreSql(Default::default())
        }
        StreamRequest::CloseSql(r) => {
            s.sqls.remove(&r.sql_id);
            StreamResponse::CloseSql(Default::default())
        }
        StreamRequest::GetAutocommit(_) => StreamResponse::GetAutocommit(GetAutocommitStreamResp {
            is_autocommit: s.conn.is_autocommit(),
        }),
        StreamRequest::Close(_) | StreamRequest::None => {
            return Err(error("unexpected request", "PROTOCOL_ERROR"));
        }
    })
}

fn cursor(state: &State, body: &[u8]) -> Result<String, Refused> {
    let req: CursorReqBody = serde_json::from_slice(body).map_err(bad)?;
    let (id, mut stream) = acquire(state, req.baton.as_deref())?;
    let mut entries = Vec::new();
    run_steps(&mut stream, &req.batch, |step, outcome| match outcome {
        Ok(result) => {
            entries.push(CursorEntry::StepBegin(StepBeginEntry {
                step,
                cols: result.cols.clone(),
            }));
            for row in &result.rows {
                entries.push(CursorEntry::Row { row: row.clone() });
            }
            entries.push(CursorEntry::StepEnd(StepEndEntry {
                affected_row_count: result.affected_row_count,
                last_insert_rowid: result.last_insert_rowid,
            }));
        }
        Err(error) => entries.push(CursorEntry::StepError(StepErrorEntry {
            step,
            error: error.clone(),
        })),
    });
    let baton = release(state, id, Some(stream));
    let mut out = serde_json::to_string(&CursorRespBody {
        baton,
        base_url: None,
    })
    .map_err(bad)?;
    for entry in entries {
        out.push('\n');
        out.push_str(&serde_json::to_string(&entry).map_err(bad)?);
    }
    out.push('\n');
    Ok(out)
}

fn batch(s: &mut Stream, batch: &Batch) -> BatchResult {
    let mut result = BatchResult::default();
    run_steps(s, batch, |_, outcome| match outcome {
        Ok(r) => {
            result.step_results.push(Some(r.clone()));
            result.step_errors.push(None);
        }
        Err(e) => {
            result.step_results.push(None);
            result.step_errors.push(Some(e.clone()));
        }
    });
    result
}

/// Runs a batch's steps in order, each when its condition holds; `each` sees every step that
/// ran (a skipped step is neither ok nor failed, as the spec says).
fn run_steps(
    s: &mut Stream,
    batch: &Batch,
    mut each: impl FnMut(u32, Result<&StmtResult, &Error>),
) {
    let mut outcomes: Vec<Option<bool>> = Vec::with_capacity(batch.steps.len());
    for (i, step) in batch.steps.iter().enumerate() {
        let runs = step
            .condition
            .as_ref()
            .is_none_or(|c| holds(c, &outcomes, s.conn.is_autocommit()));
        if !runs {
            outcomes.push(None);
            continue;
        }
        let outcome = execute(s, &step.stmt);
        outcomes.push(Some(outcome.is_ok()));
        each(i as u32, outcome.as_ref());
    }
}

fn holds(cond: &BatchCond, outcomes: &[Option<bool>], autocommit: bool) -> bool {
    let step = |n: &u32| outcomes.get(*n as usize).copied().flatten();
    match cond {
        BatchCond::None => true,
        BatchCond::Ok { step: n } => step(n) == Some(true),
        BatchCond::Error { step: n } => step(n) == Some(false),
        BatchCond::Not { cond } => !holds(cond, outcomes, autocommit),
        BatchCond::And(list) => list.conds.iter().all(|c| holds(c, outcomes, autocommit)),
        BatchCond::Or(list) => list.conds.iter().any(|c| holds(c, outcomes, autocommit)),
        BatchCond::IsAutocommit {} => autocommit,
    }
}

fn sql_text(s: &Stream, sql: Option<&str>, sql_id: Option<i32>) -> Result<String, Error> {
    match (sql, sql_id) {
        (Some(sql), None) => Ok(sql.to_string()),
        (None, Some(id)) => s
            .sqls
            .get(&id)
            .cloned()
            .ok_or_else(|| error(format!("SQL text {id} not found"), "SQL_NOT_FOUND")),
        _ => Err(error(
            "exactly one of sql and sql_id is needed",
            "PROTOCOL_ERROR",
        )),
    }
}

fn execute(s: &mut Stream, stmt: &Stmt) -> Result<StmtResult, Error> {
    let sql = sql_text(s, stmt.sql.as_deref(), stmt.sql_id)?;
    let conn = &s.conn;
    let mut prepared = conn.prepare(&sql).map_err(sql_error)?;
    // Declared types are left out (rusqlite's `column_decltype` feature): the client reads
    // each value's own type.
    let cols: Vec<Col> = prepared
        .column_names()
        .into_iter()
        .map(|name| Col {
            name: Some(name.to_string()),
            decltype: None,
        })
        .collect();
    for (i, v) in stmt.args.iter().enumerate() {
        prepared
            .raw_bind_parameter(i + 1, to_sql(v))
            .map_err(sql_error)?;
    }
    for named in &stmt.named_args {
        let index = prepared
            .parameter_index(&named.name)
            .map_err(sql_error)?
            .ok_or_else(|| error(format!("no parameter {}", named.name), "ARGS_INVALID"))?;
        prepared
            .raw_bind_parameter(index, to_sql(&named.value))
            .map_err(sql_error)?;
    }
    let readonly = prepared.readonly();
    let want_rows = stmt.want_rows.unwrap_or(true);
    let mut rows = Vec::new();
    let mut raw = prepared.raw_query();
    while let Some(row) = raw.next().map_err(sql_error)? {
        if !want_rows {
            continue;
        }
        let values = (0..cols.len())
            .map(|i| row.get_ref(i).map(from_sql))
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql_error)?;
        rows.push(Row { values });
    }
    drop(raw);
    Ok(StmtResult {
        cols,
        rows,
        affected_row_count: if readonly { 0 } else { conn.changes() },
        last_insert_rowid: Some(conn.last_insert_rowid()),
        replication_index: None,
        rows_read: 0,
        rows_written: 0,
        query_duration_ms: 0.0,
    })
}

fn describe(conn: &rusqlite::Connection, sql: &str) -> Result<DescribeResult, Error> {
    let prepared = conn.prepare(sql).map_err(sql_error)?;
    Ok(DescribeResult {
        params: (1..=prepared.parameter_count())
            .map(|i| DescribeParam {
                name: prepared.parameter_name(i).map(str::to_string),
            })
            .collect(),
        cols: prepared
            .column_names()
            .into_iter()
            .map(|name| DescribeCol {
                name: name.to_string(),
                decltype: None,
            })
            .collect(),
        is_explain: prepared.is_explain() > 0,
        is_readonly: prepared.readonly(),
    })
}

fn error(message: impl Into<String>, code: &str) -> Error {
    Error {
        message: message.into(),
        code: code.to_string(),
    }
}

/// SQLite's failure as sqld reports it: the message, and the primary result code's name.
fn sql_error(e: rusqlite::Error) -> Error {
    let code = match &e {
        rusqlite::Error::SqliteFailure(f, _) => format!("SQLITE_{:?}", f.code).to_uppercase(),
        _ => "SQLITE_ERROR".to_string(),
    };
    error(e.to_string(), &code)
}

fn to_sql(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::None | Value::Null => V::Null,
        Value::Integer { value } => V::Integer(*value),
        Value::Float { value } => V::Real(*value),
        Value::Text { value } => V::Text(value.to_string()),
        Value::Blob { value } => V::Blob(value.to_vec()),
    }
}

fn from_sql(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef as V;
    match v {
        V::Null => Value::Null,
        V::Integer(value) => Value::Integer { value },
        V::Real(value) => Value::Float { value },
        V::Text(t) => Value::Text {
            value: String::from_utf8_lossy(t).into(),
        },
        V::Blob(b) => Value::Blob {
            value: Bytes::copy_from_slice(b),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spin's client (the `libsql` crate) against this server: rows, parameters, a
    /// transaction held on one stream, and the stale `changes()` that Spin's backend reports.
    #[tokio::test(flavor = "multi_thread")]
    async fn spins_libsql_client_works_against_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let server = HranaServer::start(&dir.path().join("db.sqlite"), "secret")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let db = libsql::Builder::new_remote(server.url(), "secret".into())
            .build()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let conn = db.connect().unwrap_or_else(|e| panic!("{e}"));
        let q = |sql: &'static str, params: Vec<libsql::Value>| {
            let conn = conn.clone();
            async move {
                let mut rows = conn
                    .query(sql, params)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                let mut out = Vec::new();
                while let Some(r) = rows.next().await.unwrap_or_else(|e| panic!("{e}")) {
                    out.push(r.get_value(0).unwrap_or_else(|e| panic!("{e}")));
                }
                out
            }
        };
        q("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)", vec![]).await;
        q("BEGIN IMMEDIATE", vec![]).await;
        q("INSERT INTO t (name) VALUES (?)", vec!["a".into()]).await;
        q("INSERT INTO t (name) VALUES (?)", vec!["b".into()]).await;
        q("COMMIT", vec![]).await;
        let updated = q("UPDATE t SET name = 'c' RETURNING id", vec![]).await;

        assert_eq!(updated.len(), 2, "RETURNING says what a write changed");
        assert_eq!(
            conn.changes(),
            0,
            "the client counts changes only for `execute`, never for `query` (Spin's path)"
        );
        let names = q("SELECT name FROM t ORDER BY id", vec![]).await;
        assert_eq!(names, vec![libsql::Value::Text("c".into()); 2]);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_wrong_token_is_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let server = HranaServer::start(&dir.path().join("db.sqlite"), "secret")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let db = libsql::Builder::new_remote(server.url(), "wrong".into())
            .build()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let conn = db.connect().unwrap_or_else(|e| panic!("{e}"));
        assert!(conn.query("SELECT 1", ()).await.is_err());
    }
}
