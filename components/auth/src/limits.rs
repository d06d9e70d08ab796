//! Brute-force protection for login: counters per client IP and per username, counted
//! atomically in SQLite (one upsert per attempt, so concurrent attempts cannot slip past the
//! limit; the key-value store has no atomic increment or TTL). A window starts with the first
//! attempt and lasts `login_window_seconds`; the next attempt after it starts a new one.

use chat_core::spin::{Db, FromRow, Row, Value};
use chat_core::{Error, ErrorCode};

struct Counter {
    count: i64,
    window_start: i64,
}

impl FromRow for Counter {
    fn from_row(row: &Row<'_>) -> Result<Self, Error> {
        Ok(Self {
            count: row.int("count")?,
            window_start: row.int("window_start")?,
        })
    }
}

/// Counts one attempt under `key`; `429 RATE_LIMITED` with `retry-after` once over `limit`.
pub async fn hit(db: &Db, key: &str, limit: i64, window: i64, now: i64) -> Result<(), Error> {
    let counter: Option<Counter> = db
        .query_opt(
            "INSERT INTO rate_limits (key, window_start, count) VALUES (?1, ?2, 1)
             ON CONFLICT(key) DO UPDATE SET
                 count = CASE WHEN window_start + ?3 > ?2 THEN count + 1 ELSE 1 END,
                 window_start = CASE WHEN window_start + ?3 > ?2 THEN window_start ELSE ?2 END
             RETURNING count, window_start",
            vec![
                Value::Text(key.into()),
                Value::Integer(now),
                Value::Integer(window),
            ],
        )
        .await?;
    let Some(c) = counter else { return Ok(()) };
    if c.count > limit {
        let retry_after = (c.window_start + window - now).max(1);
        return Err(Error::new(
            ErrorCode::RateLimited,
            "Too many sign-in attempts. Try again later.",
        )
        .detail("retry_after", retry_after)
        .header(http::header::RETRY_AFTER, retry_after.to_string())
        .header(
            http::HeaderName::from_static("ratelimit-limit"),
            limit.to_string(),
        )
        .header(http::HeaderName::from_static("ratelimit-remaining"), "0")
        .header(
            http::HeaderName::from_static("ratelimit-reset"),
            retry_after.to_string(),
        ));
    }
    Ok(())
}

pub async fn reset(db: &Db, key: &str) -> Result<(), Error> {
    db.execute(
        "DELETE FROM rate_limits WHERE key = ?",
        vec![Value::Text(key.into())],
    )
    .await
    .map(|_| ())
}
