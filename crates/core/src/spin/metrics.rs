//! Counting for `GET /metrics`. A request adds to a small table in its instance's memory;
//! the first addition schedules a flush a moment later, which adds everything counted since
//! to the shared `metric_counters` rows in one statement. So a busy instance writes a few
//! times a second, not once per request, and nothing is lost when the instance goes: Spin
//! keeps an instance while a task of it runs, and the flush is such a task.

use super::db::{Db, FromRow, Row};
use super::{Value, log, task};
use crate::error::Error;
use crate::metrics::{self, Stored};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long counts gather in an instance before they are written.
const FLUSH_AFTER: Duration = Duration::from_millis(100);

static PENDING: Mutex<Option<HashMap<(&'static str, String), f64>>> = Mutex::new(None);
static SCHEDULED: AtomicBool = AtomicBool::new(false);
/// The `metrics` variable (`serve` sets it from the config, the same for every request).
static ENABLED: AtomicBool = AtomicBool::new(true);

pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Adds `value` to a counter (flushed by [`flush_soon`]).
pub fn add(name: &'static str, labels: String, value: f64) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    if let Ok(mut pending) = PENDING.lock() {
        *pending
            .get_or_insert_with(HashMap::new)
            .entry((name, labels))
            .or_insert(0.0) += value;
    }
}

/// One request: its count by family and status, and its duration in the histogram.
pub fn request(family: &str, status: u16, seconds: f64) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let status = status.to_string();
    add(
        metrics::REQUESTS,
        metrics::labels(&[("family", family), ("status", &status)]),
        1.0,
    );
    add(
        metrics::DURATION_BUCKET,
        metrics::labels(&[("family", family), ("le", &metrics::bucket(seconds))]),
        1.0,
    );
    add(
        metrics::DURATION_SUM,
        metrics::labels(&[("family", family)]),
        seconds,
    );
}

/// Makes sure a flush is scheduled for what has been added.
pub async fn flush_soon() {
    if !ENABLED.load(Ordering::Relaxed) || SCHEDULED.swap(true, Ordering::AcqRel) {
        return;
    }
    task::spawn(async {
        spin_sdk::time::sleep(FLUSH_AFTER).await;
        SCHEDULED.store(false, Ordering::Release);
        flush().await;
    })
    .await;
}

/// Writes what this instance counted. On failure the counts go back, for the next flush.
pub async fn flush() {
    let taken = PENDING.lock().ok().and_then(|mut p| p.take());
    let Some(counts) = taken.filter(|c| !c.is_empty()) else {
        return;
    };
    if let Err(e) = write(&counts).await {
        log::warn(
            "metrics could not be stored; kept for the next flush",
            e.causes(),
        );
        for ((name, labels), value) in counts {
            add(name, labels, value);
        }
    }
}

/// One statement for everything counted: atomic, one round trip, and always the same text
/// (the rows go as one JSON parameter), so SQLite's statement cache keeps it prepared.
async fn write(counts: &HashMap<(&'static str, String), f64>) -> Result<(), Error> {
    let rows: Vec<serde_json::Value> = counts
        .iter()
        .map(|((name, labels), value)| serde_json::json!([name, labels, value]))
        .collect();
    Db::open()
        .await?
        .execute(
            chat_store::metrics::ADD,
            vec![Value::Text(serde_json::Value::Array(rows).to_string())],
        )
        .await
        .map(|_| ())
}

struct Row3(Stored);

impl FromRow for Row3 {
    fn from_row(row: &Row<'_>) -> Result<Self, Error> {
        Ok(Self(Stored {
            name: row.text("name")?,
            labels: row.text("labels")?,
            value: row.real("value")?,
        }))
    }
}

/// Every stored counter.
pub async fn stored(db: &Db) -> Result<Vec<Stored>, Error> {
    let rows: Vec<Row3> = db.query(chat_store::metrics::COUNTERS, vec![]).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}
