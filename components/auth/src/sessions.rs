//! Sessions and the tokens that prove them. A session is one sign-in; its refresh token is an
//! opaque random value, stored only as a SHA-256, replaced on every refresh. A refresh token
//! that was already spent means it leaked: the whole session is revoked.

use crate::audit::Client;
use crate::security;
use crate::settings::settings;
use crate::users::{UserRow, UserView};
use chat_core::auth::jwt::Claims;
use chat_core::auth::secrets::{random_token, sha256_hex};
use chat_core::spin::auth::{now_unix, signing_keys};
use chat_core::spin::{ApiJson, Db, Value};
use chat_core::time;
use chat_core::{Error, ErrorCode};
use serde::Serialize;

/// Refresh tokens start with this, so a leaked one is recognisable in logs and scanners.
pub const REFRESH_PREFIX: &str = "ocr_";

/// `{user, access_token, refresh_token, token_type, expires_in}`.
#[derive(Serialize)]
pub struct TokenResponse {
    pub user: UserView,
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
}

async fn access_token(user: &UserRow, session_id: &str) -> Result<(String, i64), Error> {
    let ttl = settings().await?.access_ttl_secs;
    let now = now_unix();
    let claims = Claims {
        sub: user.id.clone(),
        sid: session_id.to_string(),
        role: user.role,
        iat: now,
        nbf: now,
        exp: now + ttl,
    };
    Ok((signing_keys().await?.sign(&claims), ttl))
}

/// Starts a session for `user` and returns its first token pair.
pub async fn start(db: &Db, user: &UserRow, client: &Client) -> Result<TokenResponse, Error> {
    let refresh_ttl = settings().await?.refresh_ttl_secs;
    let id = chat_core::ids::new_id();
    let refresh = format!("{REFRESH_PREFIX}{}", random_token(32)?);
    let now = time::now_rfc3339();
    db.execute(
        chat_store::sessions::INSERT,
        vec![
            Value::Text(id.clone()),
            Value::Text(user.id.clone()),
            Value::Text(sha256_hex(&refresh)),
            Value::Text(now.clone()),
            Value::Text(now),
            Value::Text(time::from_now(refresh_ttl)),
            client
                .user_agent
                .clone()
                .map(Value::Text)
                .unwrap_or(Value::Null),
            client.ip.clone().map(Value::Text).unwrap_or(Value::Null),
        ],
    )
    .await?;
    let (access_token, expires_in) = access_token(user, &id).await?;
    Ok(TokenResponse {
        user: user.view(),
        access_token,
        refresh_token: refresh,
        token_type: "Bearer",
        expires_in,
    })
}

struct SessionRef {
    id: String,
    user_id: String,
}

chat_core::from_columns!(SessionRef { id, user_id });

fn invalid_refresh() -> Error {
    Error::new(
        ErrorCode::Unauthenticated,
        "The refresh token is invalid or expired.",
    )
}

pub enum Refreshed {
    Ok(TokenResponse),
    /// A spent token was presented: the session it belonged to is now revoked.
    Reused {
        user_id: String,
        session_id: String,
    },
}

/// Trades a refresh token for a new pair, sliding the session's expiry.
pub async fn refresh(db: &Db, presented: &str) -> Result<Refreshed, Error> {
    let hash = sha256_hex(presented);
    let now = time::now_rfc3339();
    let live: Option<SessionRef> = db
        .query_opt(
            chat_store::sessions::BY_REFRESH,
            vec![Value::Text(hash.clone()), Value::Text(now.clone())],
        )
        .await?;
    let Some(session) = live else {
        let spent: Option<SessionRef> = db
            .query_opt(chat_store::sessions::BY_SPENT, vec![Value::Text(hash)])
            .await?;
        return match spent {
            Some(s) => {
                revoke(db, &s.user_id, std::slice::from_ref(&s.id)).await?;
                Ok(Refreshed::Reused {
                    user_id: s.user_id,
                    session_id: s.id,
                })
            }
            None => Err(invalid_refresh()),
        };
    };
    let user = crate::users::by_id(db, &session.user_id)
        .await?
        .filter(|u| u.status.is_active())
        .ok_or_else(invalid_refresh)?;
    let refresh_ttl = settings().await?.refresh_ttl_secs;
    let next = format!("{REFRESH_PREFIX}{}", random_token(32)?);
    // Only one of two concurrent refreshes with the same token can swap it; the other finds
    // it spent, which is what a replay looks like.
    let swapped = db
        .changed(
            chat_store::sessions::ROTATE,
            vec![
                Value::Text(sha256_hex(&next)),
                Value::Text(now.clone()),
                Value::Text(time::from_now(refresh_ttl)),
                Value::Text(session.id.clone()),
                Value::Text(hash.clone()),
            ],
        )
        .await?;
    if swapped != 1 {
        revoke(db, &session.user_id, std::slice::from_ref(&session.id)).await?;
        return Ok(Refreshed::Reused {
            user_id: session.user_id,
            session_id: session.id,
        });
    }
    db.execute(
        chat_store::sessions::SPEND,
        vec![
            Value::Text(hash),
            Value::Text(session.id.clone()),
            Value::Text(now),
        ],
    )
    .await?;
    let (access_token, expires_in) = access_token(&user, &session.id).await?;
    Ok(Refreshed::Ok(TokenResponse {
        user: user.view(),
        access_token,
        refresh_token: next,
        token_type: "Bearer",
        expires_in,
    }))
}

/// Revokes sessions of one user: their refresh tokens stop at once, and so do their access
/// tokens (through the key-value security record).
pub async fn revoke(db: &Db, user_id: &str, session_ids: &[String]) -> Result<(), Error> {
    let now = time::now_rfc3339();
    for id in session_ids {
        db.execute(
            chat_store::sessions::REVOKE,
            vec![
                Value::Text(now.clone()),
                Value::Text(id.clone()),
                Value::Text(user_id.into()),
            ],
        )
        .await?;
    }
    let user = crate::users::by_id(db, user_id).await?;
    let account = user.map(|u| (u.status, u.role));
    security::revoke_sessions(user_id, account, session_ids).await
}

struct Id(String);

chat_core::from_columns!(Id(id));

/// Revokes every live session of a user except `keep`.
pub async fn revoke_all_except(db: &Db, user_id: &str, keep: Option<&str>) -> Result<(), Error> {
    let ids: Vec<Id> = db
        .query(
            chat_store::sessions::LIVE_OF_USER,
            vec![Value::Text(user_id.into())],
        )
        .await?;
    let ids: Vec<String> = ids
        .into_iter()
        .map(|i| i.0)
        .filter(|id| Some(id.as_str()) != keep)
        .collect();
    revoke(db, user_id, &ids).await
}

/// A session's answer in cookie mode: the tokens are in `Set-Cookie`, never in the body.
#[derive(Serialize)]
struct CookieSession {
    user: UserView,
    token_type: &'static str,
    expires_in: i64,
    /// The `csrf` cookie's value, to send back in `x-csrf-token` on unsafe requests.
    csrf_token: String,
}

/// Answers a new or renewed session: tokens in the body, or — when the client asked for cookie
/// mode (`x-auth-mode: cookie`) — as `HttpOnly` cookies with a fresh CSRF token.
pub async fn respond(
    status: axum::http::StatusCode,
    tokens: TokenResponse,
    cookie_mode: bool,
) -> Result<axum::response::Response, Error> {
    use axum::response::IntoResponse;
    if !cookie_mode {
        return Ok((status, ApiJson(tokens)).into_response());
    }
    let csrf = random_token(32)?;
    let refresh_ttl = settings().await?.refresh_ttl_secs;
    let set = chat_core::auth::cookies::issue(
        &tokens.access_token,
        tokens.expires_in,
        &tokens.refresh_token,
        refresh_ttl,
        &csrf,
    );
    let body = CookieSession {
        user: tokens.user,
        token_type: "Cookie",
        expires_in: tokens.expires_in,
        csrf_token: csrf,
    };
    let mut response = (status, ApiJson(body)).into_response();
    for c in set {
        let value = axum::http::HeaderValue::from_str(&c)
            .map_err(|e| Error::internal("cookie header").because(e))?;
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, value);
    }
    Ok(response)
}
