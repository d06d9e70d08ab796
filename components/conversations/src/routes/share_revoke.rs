//! `DELETE /api/conversations/{id}/share`: the link stops working at once. `404` when the
//! conversation is not the caller's or has no link.

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
    let delete = chat_store::conversations::DELETE_SHARE;
    delete_owned(&db, delete, &id, &principal.user_id, "Share link").await?;
    Ok(StatusCode::NO_CONTENT)
}
