//! `POST /api/auth/refresh`: trade a refresh token for a new pair. The old token is spent;
//! presenting a spent token revokes its whole session. In cookie mode the body is empty: the
//! token is the `refresh_token` cookie, the CSRF token must be echoed, and the new pair comes
//! back as cookies.

use crate::audit::{self, Client};
use crate::sessions::{self, Refreshed};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use chat_core::auth::cookies;
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
    body: Option<ApiJson<Body>>,
) -> Result<Response, Error> {
    let (token, cookie_mode) = match &body {
        Some(ApiJson(b)) => (b.refresh_token.trim(), cookies::wanted(&headers)),
        None => (from_cookie(&headers)?, true),
    };
    let db = Db::open().await?;
    match sessions::refresh(&db, token).await? {
        Refreshed::Ok(tokens) => sessions::respond(StatusCode::OK, tokens, cookie_mode).await,
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

/// The refresh cookie of a cookie-mode refresh, which must carry its CSRF token.
fn from_cookie(headers: &HeaderMap) -> Result<&str, Error> {
    let token = cookies::get(headers, cookies::REFRESH).ok_or_else(|| {
        Error::validation(
            "refresh_token",
            "Send the refresh token in the body, or sign in with cookies first.",
        )
    })?;
    if !cookies::csrf_ok(&Method::POST, headers) {
        return Err(Error::new(
            ErrorCode::Forbidden,
            "A refresh by cookie must send the `csrf` cookie's value in the x-csrf-token header.",
        ));
    }
    Ok(token)
}
