//! `PATCH /api/admin/users/{id}`: change a user's role or status (admins only). The last
//! active admin cannot be demoted or disabled (`409 CONFLICT`). A disabled user's tokens and
//! keys stop working at once.

use crate::admin::{self, AccountChange};
use crate::audit::{self, Client};
use crate::users::UserEnvelope;
use axum::http::HeaderMap;
use chat_core::Error;
use chat_core::auth::{AccountStatus, Role};
use chat_core::ids::UserId;
use chat_core::spin::auth::Admin;
use chat_core::spin::{ApiJson, Db, RequestContext};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    role: Option<String>,
    status: Option<String>,
}

pub async fn patch(
    Admin(admin): Admin,
    ctx: RequestContext,
    headers: HeaderMap,
    id: UserId,
    ApiJson(body): ApiJson<Body>,
) -> Result<ApiJson<UserEnvelope>, Error> {
    let role = body
        .role
        .as_deref()
        .map(|r| {
            Role::parse(r).ok_or_else(|| Error::validation("role", "`role` is admin or user."))
        })
        .transpose()?;
    let status = body
        .status
        .as_deref()
        .map(|s| {
            AccountStatus::parse(s).ok_or_else(|| {
                Error::validation("status", "`status` is active, pending or disabled.")
            })
        })
        .transpose()?;
    let db = Db::open().await?;
    let (before, after) = admin::change_account(&db, &id, AccountChange { role, status }).await?;
    audit::record(
        &db,
        "account_changed",
        Some(&id),
        &Client::from(&ctx, &headers),
        serde_json::json!({
            "by": admin.user_id,
            "role": [before.role, after.role],
            "status": [before.status, after.status],
        }),
    )
    .await?;
    Ok(ApiJson(UserEnvelope { user: after.view() }))
}
