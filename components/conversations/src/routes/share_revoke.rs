//! `DELETE /api/conversations/{id}/share`: the link stops working at once. `404` when the
//! conversation is not the caller's or has no link.

use axum::http::StatusCode;
use chat_core::Error;
use chat_core::ids::ConversationId;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{Db, Value};

pub async fn delete(
    Authenticated(principal): Authenticated,
    id: ConversationId,
) -> Result<StatusCode, Error> {
    let db = Db::open().await?;
    let removed = db
        .changed(
            "DELETE FROM share_links WHERE conversation_id = ? AND user_id = ? RETURNING 1",
            vec![
                Value::Text(id.into()),
                Value::Text(principal.user_id.clone()),
            ],
        )
        .await?;
    if removed == 0 {
        return Err(Error::not_found("Share link"));
    }
    Ok(StatusCode::NO_CONTENT)
}
