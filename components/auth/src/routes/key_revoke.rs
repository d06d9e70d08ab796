//! `DELETE /api/auth/keys/{id}`: revoke an API key; it stops working at once.

use crate::audit::{self, Client};
use axum::http::{HeaderMap, StatusCode};
use chat_core::Error;
use chat_core::ids::KeyId;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{Db, RequestContext, Value};

pub async fn delete(
    Authenticated(principal): Authenticated,
    ctx: RequestContext,
    headers: HeaderMap,
    id: KeyId,
) -> Result<StatusCode, Error> {
    let db = Db::open().await?;
    let now = chat_core::time::now_rfc3339();
    let changed = db
        .changed(
            chat_store::keys::REVOKE,
            vec![
                Value::Text(now.clone()),
                Value::Text(id.to_string()),
                Value::Text(principal.user_id.clone()),
                Value::Text(now),
            ],
        )
        .await?;
    if changed == 0 {
        return Err(Error::not_found("API key"));
    }
    audit::record(
        &db,
        "api_key_revoked",
        Some(&principal.user_id),
        &Client::from(&ctx, &headers),
        serde_json::json!({ "key_id": id }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
