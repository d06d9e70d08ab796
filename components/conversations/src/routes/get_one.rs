//! `GET /api/conversations/{id}`: one conversation of the caller.

use super::create::Envelope;
use chat_core::Error;
use chat_core::ids::ConversationId;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, Db};
use chat_domain::rows::owned;

pub async fn get(
    Authenticated(principal): Authenticated,
    id: ConversationId,
) -> Result<ApiJson<Envelope>, Error> {
    let db = Db::open().await?;
    let row = owned(&db, &principal.user_id, &id).await?;
    Ok(ApiJson(Envelope {
        conversation: row.view(),
    }))
}
