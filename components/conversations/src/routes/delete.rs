//! `DELETE /api/conversations/{id}`: the conversation, its messages, tags and share link
//! (the last three by trigger, in the same statement).

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
    let deleted = db
        .changed(
            "DELETE FROM conversations WHERE id = ? AND user_id = ? RETURNING 1",
            vec![
                Value::Text(id.into()),
                Value::Text(principal.user_id.clone()),
            ],
        )
        .await?;
    if deleted == 0 {
        return Err(Error::not_found("Conversation"));
    }
    Ok(StatusCode::NO_CONTENT)
}
