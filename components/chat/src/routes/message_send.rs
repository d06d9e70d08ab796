//! `POST /api/chat/{conversation_id}/messages`: store the question, answer it from Ollama
//! (server-sent events, or one JSON object with `stream: false`).

use crate::exchange::{self, Ask};
use crate::plan::Question;
use axum::response::Response;
use chat_core::Error;
use chat_core::ids::ConversationId;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, RequestContext};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    content: String,
    model: Option<String>,
    options: Option<serde_json::Value>,
    stream: Option<bool>,
}

pub async fn post(
    Authenticated(principal): Authenticated,
    ctx: RequestContext,
    conversation_id: ConversationId,
    ApiJson(b): ApiJson<Body>,
) -> Result<Response, Error> {
    chat_domain::conversation::check_content(&b.content, "content")?;
    let ask = Ask::parse(Question::New(&b.content), b.model, b.options, b.stream)?;
    exchange::respond(&ctx, &principal, &conversation_id, ask).await
}
