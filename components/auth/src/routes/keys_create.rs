//! `POST /api/auth/keys`: create an API key, optionally with a daily token budget of its own.
//! The key is shown in this response only; the server keeps a keyed hash of it and a short
//! visible prefix.

use crate::audit::{self, Client};
use crate::keys::{self, KeyCreated};
use axum::http::{HeaderMap, StatusCode};
use chat_core::Error;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, Db, RequestContext};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    name: String,
    expires_in_days: Option<i64>,
    max_tokens_per_day: Option<i64>,
}

pub async fn post(
    Authenticated(principal): Authenticated,
    ctx: RequestContext,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Body>,
) -> Result<(StatusCode, ApiJson<KeyCreated>), Error> {
    let name = keys::name(&body.name)?;
    let new = keys::NewKey {
        name: &name,
        expires_at: keys::expiry(body.expires_in_days)?,
        max_tokens_per_day: keys::budget(body.max_tokens_per_day)?,
    };
    let db = Db::open().await?;
    let created = keys::create(&db, &principal.user_id, new).await?;
    audit::record(
        &db,
        "api_key_created",
        Some(&principal.user_id),
        &Client::from(&ctx, &headers),
        serde_json::json!({ "key_id": created.id, "prefix": created.prefix }),
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(created)))
}
