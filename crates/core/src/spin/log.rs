//! Structured logs: one JSON object per line on stdout (Spin keeps component output in
//! `.spin/logs/` and shows it in the terminal). Never given passwords, tokens or contents.

use serde_json::{Map, Value};

pub use crate::time::now_rfc3339;

pub fn line(level: &str, fields: Map<String, Value>) {
    let mut obj = Map::new();
    obj.insert("ts".into(), Value::from(now_rfc3339()));
    obj.insert("level".into(), Value::from(level));
    obj.extend(fields);
    println!("{}", Value::Object(obj));
}

pub fn error(request_id: &str, component: &str, message: &str, cause: &str) {
    let mut f = Map::new();
    f.insert("request_id".into(), Value::from(request_id));
    f.insert("component".into(), Value::from(component));
    f.insert("message".into(), Value::from(message));
    f.insert("cause".into(), Value::from(cause));
    line("error", f);
}
