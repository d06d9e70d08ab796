//! `POST /api/auth/logout`: end the current session (and, if given, the session of a refresh
//! token of the same user). Its refresh token stops working; so do its access tokens.

use crate::audit::{self, Client};
use crate::sessions;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chat_core::Error;
use chat_core::auth::cookies;
use chat_core::auth::principal::Credential;
use chat_core::auth::secrets::sha256_hex;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{Db, RequestContext, Value};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Body {
    refresh_token: Option<String>,
}

struct Owned(String);

chat_core::from_columns!(Owned(id));

pub async fn post(
    Authenticated(principal): Authenticated,
    ctx: RequestContext,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Error> {
    // The body is optional.
    let body: Body = if body.is_empty() {
        Body::default()
    } else {
        chat_core::json::parse_json(&body)?
    };
    let db = Db::open().await?;
    let mut ended = Vec::new();
    if let Credential::Session(sid) = &principal.credential {
        ended.push(sid.clone());
    }
    let refresh = body
        .refresh_token
        .or_else(|| cookies::get(&headers, cookies::REFRESH).map(str::to_string));
    if let Some(token) = refresh {
        let other: Option<Owned> = db
            .query_opt(
                chat_store::sessions::BY_REFRESH_OF_USER,
                vec![
                    Value::Text(sha256_hex(token.trim())),
                    Value::Text(principal.user_id.clone()),
                ],
            )
            .await?;
        if let Some(o) = other
            && !ended.contains(&o.0)
        {
            ended.push(o.0);
        }
    }
    sessions::revoke(&db, &principal.user_id, &ended).await?;
    audit::record(
        &db,
        "logout",
        Some(&principal.user_id),
        &Client::from(&ctx, &headers),
        serde_json::json!({ "sessions": ended }),
    )
    .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    // A cookie session's browser forgets its cookies too.
    if cookies::get(&headers, cookies::ACCESS).is_some() {
        for c in cookies::clear() {
            if let Ok(v) = HeaderValue::from_str(&c) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
        }
    }
    Ok(response)
}
