//! `POST /api/auth/password`: change the password; every other session ends.

use crate::audit::{self, Client};
use crate::{sessions, users};
use axum::http::{HeaderMap, StatusCode};
use chat_core::auth::password::Verified;
use chat_core::auth::principal::Credential;
use chat_core::auth::{Password, PasswordHash};
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, Db, RequestContext};
use chat_core::{Error, ErrorCode};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    current_password: String,
    new_password: String,
}

pub async fn post(
    Authenticated(principal): Authenticated,
    ctx: RequestContext,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Body>,
) -> Result<StatusCode, Error> {
    let db = Db::open().await?;
    let user = users::current(&db, &principal.user_id).await?;
    let current =
        Password::for_verification(&body.current_password).map_err(|_| wrong_current())?;
    if PasswordHash::from_stored(user.password_hash.clone()).verify(&current) == Verified::No {
        return Err(wrong_current());
    }
    let personal: Vec<&str> = [
        Some(user.username.as_str()),
        user.display_name.as_deref(),
        user.email.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let new = Password::parse(&body.new_password, &personal)
        .map_err(|e| rename_field(e, "new_password"))?;
    let hash = PasswordHash::hash(&new)?;
    users::set_password_hash(&db, &user.id, &hash).await?;
    let keep = match &principal.credential {
        Credential::Session(sid) => Some(sid.as_str()),
        Credential::ApiKey(_) => None,
    };
    sessions::revoke_all_except(&db, &user.id, keep).await?;
    audit::record(
        &db,
        "password_changed",
        Some(&user.id),
        &Client::from(&ctx, &headers),
        serde_json::Value::Null,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn wrong_current() -> Error {
    Error::new(ErrorCode::Forbidden, "The current password is wrong.")
        .detail("field", "current_password")
}

/// Password errors name `password`; here the field is `new_password`.
fn rename_field(e: Error, field: &str) -> Error {
    if e.details().get("field").is_some() {
        e.detail("field", field)
    } else {
        e
    }
}
