//! `POST /api/chat/{conversation_id}/stop`: ends the answers being generated for the
//! conversation, wherever they run (the generating loop reads the flag after each chunk).
//! Answers `204` once the partial answer is stored (or after 5 s at most); `404` if nothing is
//! running.

use axum::http::StatusCode;
use chat_core::Error;
use chat_core::ids::ConversationId;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{Db, RequestContext, Value};
use std::time::{Duration, Instant};

struct Running(i64);

chat_core::from_columns!(Running(n));

pub async fn post(
    Authenticated(principal): Authenticated,
    ctx: RequestContext,
    conversation_id: ConversationId,
) -> Result<StatusCode, Error> {
    let none = || Error::not_found("Running generation");
    let db = Db::open().await?;
    let params = || {
        vec![
            Value::Text(conversation_id.to_string()),
            Value::Text(principal.user_id.clone()),
        ]
    };
    // A row whose heartbeat stopped belongs to an instance that died: nothing runs there.
    let stale = crate::plan::stale_before(ctx.config.ollama_timeout);
    let live = || {
        let mut p = params();
        p.push(Value::Text(stale.clone()));
        p
    };
    let flagged = db
        .changed(
            "UPDATE generations SET stop_requested = 1
              WHERE conversation_id = ? AND user_id = ? AND heartbeat_at > ?
             RETURNING 1",
            live(),
        )
        .await?;
    if flagged == 0 {
        return Err(none());
    }
    // Wait until the generation has stored its partial answer, so the caller can rely on it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let left: Option<Running> = db
            .query_opt(
                "SELECT COUNT(*) AS n FROM generations
                  WHERE conversation_id = ? AND user_id = ? AND heartbeat_at > ?",
                live(),
            )
            .await?;
        if left.map_or(0, |r| r.0) == 0 {
            break;
        }
        spin_sdk::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(StatusCode::NO_CONTENT)
}
