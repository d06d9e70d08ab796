//! `POST /v1/chat/completions`: OpenAI's chat completions, answered by Ollama (whole, or
//! streamed as `chat.completion.chunk`s ending with `data: [DONE]`). Stateless: nothing is
//! stored but usage.

use crate::completion;
use crate::openai::chat::ChatRequest;
use axum::response::Response;
use chat_core::Error;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, RequestContext};

pub async fn post(
    Authenticated(caller): Authenticated,
    ctx: RequestContext,
    ApiJson(request): ApiJson<ChatRequest>,
) -> Result<Response, Error> {
    let translated = request.translate()?;
    Ok(completion::respond(&ctx, caller, translated).await)
}
