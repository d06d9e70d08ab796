//! `PATCH /api/admin/users/{id}`: change a user's role, status or token quota (admins only).
//! The last active admin cannot be demoted or disabled (`409 CONFLICT`). A disabled user's
//! tokens and keys stop working at once; a new quota applies to the user's next question.

use crate::admin::{self, AccountChange};
use crate::audit::{self, Client};
use crate::quotas::{self, QuotaBody, QuotaLimits};
use crate::users::UserView;
use axum::http::HeaderMap;
use chat_core::Error;
use chat_core::auth::{AccountStatus, Role};
use chat_core::ids::UserId;
use chat_core::json::Patch;
use chat_core::spin::auth::Admin;
use chat_core::spin::{ApiJson, Db, RequestContext};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    role: Option<String>,
    status: Option<String>,
    #[serde(default)]
    quota: Patch<QuotaBody>,
}

/// `{user, quota}`: the user and the token limits that now apply to them.
#[derive(Serialize)]
pub struct Updated {
    user: UserView,
    quota: QuotaLimits,
}

pub async fn patch(
    Admin(admin): Admin,
    ctx: RequestContext,
    headers: HeaderMap,
    id: UserId,
    ApiJson(body): ApiJson<Body>,
) -> Result<ApiJson<Updated>, Error> {
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
    quotas::check(&body.quota)?;
    let db = Db::open().await?;
    let (before, after) = admin::change_account(&db, &id, AccountChange { role, status }).await?;
    quotas::set(&db, &id, &body.quota).await?;
    audit::record(
        &db,
        "account_changed",
        Some(&id),
        &Client::from(&ctx, &headers),
        serde_json::json!({
            "by": admin.user_id,
            "role": [before.role, after.role],
            "status": [before.status, after.status],
            "quota_changed": !matches!(body.quota, Patch::Missing),
        }),
    )
    .await?;
    let quota = quotas::limits(&db, &id, ctx.config.quota).await?;
    Ok(ApiJson(Updated {
        user: after.view(),
        quota,
    }))
}
