//! Counting against a rate limit: one upsert on the `rate_limits` table, which SQLite applies
//! atomically, so concurrent requests on any instance or replica (libSQL) never slip past the
//! limit. A window starts with a key's first request and lasts `window` seconds; the first
//! request after it starts a new one. (Not the key-value store's atomic increment: measured
//! in docs/BENCHMARKS.md, "Counting a request", it is a file-synced write on Spin's default
//! store, synchronous for the guest so it cannot be bounded when Redis is down, cannot roll
//! back with a refused chat request, and has no expiry.) The pipeline
//! counts before routing ([`try_count`], and [`try_count_leased`] for the `general` class,
//! which adds a block of counts at a time); asking the model is counted by its handler
//! ([`Pending`]). When the database cannot count, a request is let through (logged).

use super::Value;
use super::db::Db;
use crate::error::Error;
use crate::ratelimit::{Class, Leases, Quota};
use axum::response::{IntoResponse, Response};

struct Counter {
    count: i64,
    window_start: i64,
}

crate::from_columns!(Counter {
    count,
    window_start
});

/// Adds `?4` under `?1` at `?2` (now) in windows of `?3` seconds. The row's end of window
/// lets a later new key's insert delete it once the window is over (migration 0006).
const UPSERT: &str = chat_store::rate_limits::COUNT;

fn params(key: &str, window: u32, now: i64, add: i64) -> Vec<Value> {
    vec![
        Value::Text(key.into()),
        Value::Integer(now),
        Value::Integer(i64::from(window)),
        Value::Integer(add),
    ]
}

/// This instance's counts added ahead of use (the `general` class only, see [`Leases`]).
static LEASES: std::sync::Mutex<Option<Leases>> = std::sync::Mutex::new(None);

fn with_leases<T>(f: impl FnOnce(&mut Leases) -> T) -> Option<T> {
    let mut guard = LEASES.lock().ok()?;
    Some(f(guard.get_or_insert_with(Leases::default)))
}

fn quota(counter: Option<Counter>, limit: u32, window: u32, now: i64) -> Result<Quota, Error> {
    let c = counter.ok_or_else(|| Error::internal("rate-limit upsert returned no row"))?;
    Ok(Quota::new(limit, window, c.count, c.window_start, now))
}

/// Counts one request under `key` and tells where it stands against `limit`, waiting as long
/// as any write for the database (brute-force counters must not be skipped).
pub async fn count(db: &Db, key: &str, limit: u32, window: u32, now: i64) -> Result<Quota, Error> {
    let counter = db.query_opt(UPSERT, params(key, window, now, 1)).await?;
    quota(counter, limit, window, now)
}

/// Like [`count`], but one try that gives up after the connection's short wait (100 ms) when
/// another writer holds the database, or fails: `None` then, and the request is let through
/// (availability over strictness; logged). Only a long transaction (a big import) holds the
/// lock that long, and requests should not stall behind it for the sake of a counter.
pub async fn try_count(db: &Db, key: &str, limit: u32, window: u32, now: i64) -> Option<Quota> {
    let counted = match db
        .query_opt_briefly(UPSERT, params(key, window, now, 1))
        .await
    {
        Ok(counter) => quota(counter, limit, window, now),
        Err(e) => Err(e),
    };
    let_through(counted)
}

/// Like [`try_count`], for the `general` class: from a block this instance added earlier
/// when one is left (no write), else adding a new block ([`Leases`]). `db` is opened only
/// for a write.
pub async fn try_count_leased<F>(
    db: impl FnOnce() -> F,
    key: &str,
    limit: u32,
    window: u32,
    now: i64,
) -> Option<Quota>
where
    F: Future<Output = Result<Db, Error>>,
{
    if let Some(Some((count, start))) = with_leases(|l| l.take(key, window, now)) {
        return Some(Quota::new(limit, window, count, start, now));
    }
    let block = with_leases(|l| l.next_block(key, limit)).unwrap_or(1);
    let counted = async {
        let counter: Option<Counter> = db()
            .await?
            .query_opt_briefly(UPSERT, params(key, window, now, block))
            .await?;
        let c = counter.ok_or_else(|| Error::internal("rate-limit upsert returned no row"))?;
        let count =
            with_leases(|l| l.grant(key, block, c.count, c.window_start)).unwrap_or(c.count);
        Ok(Quota::new(limit, window, count, c.window_start, now))
    }
    .await;
    let_through(counted)
}

fn let_through(counted: Result<Quota, Error>) -> Option<Quota> {
    match counted {
        Ok(q) => Some(q),
        Err(e) => {
            super::log::warn("rate limit not counted; request let through", e.causes());
            None
        }
    }
}

/// A count the pipeline leaves to the route's handler (in [`super::RequestContext`]), so that
/// asking the model waits for no write: the handler [`judge`](Pending::judge)s the counter
/// from a read alongside its own first statement (`usage::admit`), and
/// [`record`](Pending::record)s the
/// request in the transaction that stores what it asks (as the per-user limit on running
/// generations is checked, then enforced). Counting stays exact: a request that slipped past
/// the check (the caller's other requests at the same moment) is refused by the record, and
/// its store rolled back. The handler must check before it asks anything, record with what
/// it stores, and return [`stamp`]ed results.
#[derive(Debug, Clone)]
pub struct Pending {
    pub(crate) class: Class,
    pub(crate) key: String,
    pub(crate) limit: u32,
    pub(crate) window: u32,
}

impl Pending {
    /// The counter's key, for a read that fetches it with other things (`usage::admit`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Where the caller would stand with this request, from the committed
    /// `(count, window_start)` if there is one: `Err(429)` over the limit. Judged from a read:
    /// a write would wait for SQLite's lock, and on an app that was idle (no connection open,
    /// so no WAL file) pay for a new WAL's first sync, ~1 ms here.
    pub fn judge(&self, counter: Option<(i64, i64)>) -> Result<Option<Quota>, Error> {
        let now = super::auth::now_unix();
        let window = i64::from(self.window);
        let (count, start) = match counter {
            Some((count, start)) if start + window > now => (count, start),
            _ => (0, now),
        };
        Quota::new(self.limit, self.window, count + 1, start, now)
            .enforce(self.class)
            .map(Some)
    }

    /// Counts the request, inside the transaction that stores what it asks: `Err(429)` (and
    /// the transaction rolled back) if it is over the limit after all.
    pub async fn record(&self, db: &Db) -> Result<Quota, Error> {
        let now = super::auth::now_unix();
        count(db, &self.key, self.limit, self.window, now)
            .await?
            .enforce(self.class)
    }
}

/// `answered` as a response carrying `quota`, which the pipeline turns into the rate-limit
/// headers as for the requests it counts itself.
pub fn stamp(quota: Option<Quota>, answered: Result<Response, Error>) -> Response {
    let mut response = answered.into_response();
    if let Some(quota) = quota {
        response.extensions_mut().insert(quota);
    }
    response
}

/// Forgets `key`'s counter (e.g. a username's failures after a good login).
pub async fn reset(db: &Db, key: &str) -> Result<(), Error> {
    db.execute(
        chat_store::rate_limits::RESET,
        vec![Value::Text(key.into())],
    )
    .await
    .map(|_| ())
}
