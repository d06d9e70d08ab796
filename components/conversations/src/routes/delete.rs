//! `DELETE /api/conversations/{id}`: the conversation, its messages, tags and share link
//! (the last three by trigger, in the same statement).

use axum::http::StatusCode;
use chat_core::Error;
use chat_core::ids::ConversationId;
use chat_core::spin::Db;
use chat_core::spin::auth::Authenticated;
use chat_domain::rows::delete_owned;

pub async fn delete(
    Authenticated(principal): Authenticated,
    id: ConversationId,
) -> Result<StatusCode, Error> {
    let db = Db::open().await?;
    let delete = chat_store::conversations::DELETE_OWNED;
    delete_owned(&db, delete, &id, &principal.user_id, "Conversation").await?;
    Ok(StatusCode::NO_CONTENT)
}
