//! `POST /api/auth/keys/{id}/rotate`: a new key in place of an old one, which keeps working for
//! `grace_seconds` (default 0: it stops at once) so clients can switch over.

use crate::audit::{self, Client};
use crate::keys::{self, KeyCreated};
use axum::http::{HeaderMap, StatusCode};
use chat_core::Error;
use chat_core::ids::KeyId;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, Db, RequestContext, Value};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Body {
    grace_seconds: Option<i64>,
}

struct Old {
    name: String,
    expires_at: Option<String>,
    max_tokens_per_day: Option<i64>,
}

chat_core::from_columns!(Old {
    name,
    expires_at,
    max_tokens_per_day
});

/// A week at most: a rotation is a switch-over, not a second key.
const MAX_GRACE: i64 = 7 * 86_400;

pub async fn post(
    Authenticated(principal): Authenticated,
    ctx: RequestContext,
    headers: HeaderMap,
    id: KeyId,
    body: axum::body::Bytes,
) -> Result<(StatusCode, ApiJson<KeyCreated>), Error> {
    let body: Body = if body.is_empty() {
        Body::default()
    } else {
        chat_core::json::parse_json(&body)?
    };
    let grace = body.grace_seconds.unwrap_or(0);
    if !(0..=MAX_GRACE).contains(&grace) {
        return Err(Error::validation(
            "grace_seconds",
            "`grace_seconds` must be between 0 and 604800.",
        ));
    }
    let db = Db::open().await?;
    let now = chat_core::time::now_rfc3339();
    let old: Option<Old> = db
        .query_opt(
            chat_store::keys::VALID,
            vec![
                Value::Text(id.to_string()),
                Value::Text(principal.user_id.clone()),
                Value::Text(now),
            ],
        )
        .await?;
    let old = old.ok_or_else(|| Error::not_found("API key"))?;
    // The new key keeps the old one's name, expiry and daily budget.
    let new = keys::NewKey {
        name: &old.name,
        expires_at: old.expires_at,
        max_tokens_per_day: old.max_tokens_per_day,
    };
    let created = keys::create(&db, &principal.user_id, new).await?;
    db.execute(
        chat_store::keys::VALID_UNTIL,
        vec![
            Value::Text(chat_core::time::from_now(grace)),
            Value::Text(id.to_string()),
        ],
    )
    .await?;
    audit::record(
        &db,
        "api_key_rotated",
        Some(&principal.user_id),
        &Client::from(&ctx, &headers),
        serde_json::json!({ "old_key_id": id, "new_key_id": created.id, "grace_seconds": grace }),
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(created)))
}
