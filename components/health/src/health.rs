//! `GET /health`: liveness. Touches nothing but the instance itself.

use chat_core::spin::ApiJson as Json;
use serde_json::{Value, json};

pub async fn get() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
