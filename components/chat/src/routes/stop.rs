//! `POST /api/chat/{conversation_id}/stop`: ends the answers being generated for the
//! conversation, wherever they run (the generating loop reads the flag after each chunk).
//! Answers `204` once the partial answer is stored (or after 5 s at most); `404` if nothing is
//! running.

use crate::generations;
use axum::http::StatusCode;
use chat_core::Error;
use chat_core::ids::ConversationId;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{Db, RequestContext};
use std::time::{Duration, Instant};

pub async fn post(
    Authenticated(principal): Authenticated,
    ctx: RequestContext,
    conversation_id: ConversationId,
) -> Result<StatusCode, Error> {
    let db = Db::open().await?;
    let (cid, user) = (conversation_id.to_string(), principal.user_id.as_str());
    // A row whose heartbeat stopped belongs to an instance that died: nothing runs there.
    let timeout = ctx.config.ollama_timeout;
    if generations::request_stop(&db, &cid, user, timeout).await? == 0 {
        return Err(Error::not_found("Running generation"));
    }
    // Wait until the generation has stored its partial answer, so the caller can rely on it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if generations::live_in_conversation(&db, &cid, user, timeout).await? == 0 {
            break;
        }
        spin_sdk::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(StatusCode::NO_CONTENT)
}
