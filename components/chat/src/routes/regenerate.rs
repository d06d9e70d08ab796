//! `POST /api/chat/{conversation_id}/regenerate`: a new answer to the last user message
//! (earlier answers stay). `409 CONFLICT` when there is no user message yet.

use crate::exchange::{self, Ask};
use crate::plan::Question;
use axum::response::Response;
use chat_core::Error;
use chat_core::ids::ConversationId;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, RequestContext};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Body {
    model: Option<String>,
    options: Option<serde_json::Value>,
    stream: Option<bool>,
}

pub async fn post(
    Authenticated(principal): Authenticated,
    ctx: RequestContext,
    conversation_id: ConversationId,
    body: Option<ApiJson<Body>>,
) -> Result<Response, Error> {
    let b = body.map(|ApiJson(b)| b).unwrap_or_default();
    let ask = Ask::parse(Question::Last, b.model, b.options, b.stream)?;
    exchange::respond(&ctx, &principal, &conversation_id, ask).await
}
