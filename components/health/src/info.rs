//! `GET /info`: what is running.

use chat_core::spin::ApiJson as Json;
use serde_json::{Value, json};

pub const COMPONENTS: [&str; 4] = ["auth", "conversations", "chat", "health"];

pub async fn get() -> Json<Value> {
    Json(json!({
        "name": "ollama-chat",
        "version": env!("CARGO_PKG_VERSION"),
        "components": COMPONENTS,
    }))
}
