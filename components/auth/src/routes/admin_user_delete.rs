//! `DELETE /api/admin/users/{id}`: delete a user and all their data (admins only). The last
//! active admin cannot be deleted (`409 CONFLICT`).

use crate::admin;
use crate::audit::{self, Client};
use axum::http::{HeaderMap, StatusCode};
use chat_core::Error;
use chat_core::ids::UserId;
use chat_core::spin::auth::Admin;
use chat_core::spin::{Db, RequestContext};

pub async fn delete(
    Admin(by): Admin,
    ctx: RequestContext,
    headers: HeaderMap,
    id: UserId,
) -> Result<StatusCode, Error> {
    let db = Db::open().await?;
    admin::delete_user(&db, &id).await?;
    audit::record(
        &db,
        "user_deleted",
        Some(&id),
        &Client::from(&ctx, &headers),
        serde_json::json!({ "by": by.user_id }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
