//! `POST /api/auth/refresh`: trade a refresh token for a new pair. The old token is spent;
//! presenting a spent token revokes its whole session.

use crate::audit::{self, Client};
use crate::sessions::{self, Refreshed, TokenResponse};
use axum::http::HeaderMap;
use chat_core::spin::{ApiJson, Db, RequestContext};
use chat_core::{Error, ErrorCode};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    refresh_token: String,
}

pub async fn post(
    ctx: RequestContext,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Body>,
) -> Result<ApiJson<TokenResponse>, Error> {
    let db = Db::open().await?;
    match sessions::refresh(&db, body.refresh_token.trim()).await? {
        Refreshed::Ok(tokens) => Ok(ApiJson(tokens)),
        Refreshed::Reused {
            user_id,
            session_id,
        } => {
            audit::record(
                &db,
                "refresh_token_reused",
                Some(&user_id),
                &Client::from(&ctx, &headers),
                serde_json::json!({ "session_id": session_id }),
            )
            .await?;
            Err(Error::new(
                ErrorCode::Unauthenticated,
                "This refresh token was already used; the session has been ended. Sign in again.",
            ))
        }
    }
}
