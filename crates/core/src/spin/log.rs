//! Structured logs: one JSON object per line on stdout (Spin keeps component output in
//! `.spin/logs/` and shows it in the terminal). Never given passwords, tokens, keys or message
//! contents: callers pass ids, routes, statuses and internal causes only.

use crate::config::LogLevel;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU8, Ordering};

pub use crate::time::now_rfc3339;

/// The `log_level` variable, set by `serve` from the config (the same for every request of
/// an app, so one value per instance is right).
static LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Info as u8);

pub fn set_level(level: LogLevel) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: LogLevel) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

fn name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Error => "error",
        LogLevel::Warn => "warn",
        LogLevel::Info => "info",
        LogLevel::Debug => "debug",
    }
}

/// One line at `level`, if the configured level lets it through.
pub fn line(level: LogLevel, fields: Map<String, Value>) {
    if !enabled(level) {
        return;
    }
    let mut obj = Map::new();
    obj.insert("ts".into(), Value::from(now_rfc3339()));
    obj.insert("level".into(), Value::from(name(level)));
    obj.extend(fields);
    println!("{}", Value::Object(obj));
}

/// A typed record (a struct that serializes to an object) as one line at `level`.
pub fn record(level: LogLevel, record: &impl serde::Serialize) {
    if !enabled(level) {
        return;
    }
    match serde_json::to_value(record) {
        Ok(Value::Object(fields)) => line(level, fields),
        _ => warn("a log record is not an object", &[]),
    }
}

/// An error with its cause chain (outermost first), for the operator; the client saw only
/// the error's message.
pub fn error(request_id: &str, component: &str, message: &str, causes: &[String]) {
    failure(LogLevel::Error, request_id, component, message, causes);
}

/// Like [`error`], at `level` (a client's mistake with a cause worth keeping is `debug`).
pub fn failure(
    level: LogLevel,
    request_id: &str,
    component: &str,
    message: &str,
    causes: &[String],
) {
    let mut f = Map::new();
    f.insert("request_id".into(), Value::from(request_id));
    f.insert("component".into(), Value::from(component));
    f.insert("message".into(), Value::from(message));
    let chain: Vec<Value> = causes.iter().map(|c| Value::from(c.as_str())).collect();
    f.insert("causes".into(), Value::Array(chain));
    line(level, f);
}

/// A warning that is not about one request's error (a background task, a degraded path).
pub fn warn(message: &str, causes: &[String]) {
    let mut f = Map::new();
    f.insert("message".into(), Value::from(message));
    if !causes.is_empty() {
        let chain: Vec<Value> = causes.iter().map(|c| Value::from(c.as_str())).collect();
        f.insert("causes".into(), Value::Array(chain));
    }
    line(LogLevel::Warn, f);
}
