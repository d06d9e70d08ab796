//! OpenAI's chat-completions API (`/v1/...`) in Ollama's terms, without Spin: requests checked
//! and turned into Ollama bodies, Ollama's answers turned into OpenAI's shapes (the app's
//! errors in OpenAI's shape are the pipeline's: `chat_core::openai_error`). Served by
//! `routes/v1_*.rs`.

pub mod chat;
pub mod embeddings;
mod messages;
pub mod models;
pub mod reply;

/// A fresh id with OpenAI's prefix (`chatcmpl-…`, `call_…`).
pub fn id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::now_v7().simple())
}
