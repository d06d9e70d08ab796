//! `POST /api/auth/login`: sign in. A wrong password and an unknown user give the same answer
//! and cost the same time. Attempts are limited per client IP and per username. With
//! `x-auth-mode: cookie` the tokens come as cookies (see `chat_core::auth::cookies`).

use crate::audit::{self, Client};
use crate::settings::settings;
use crate::{limits, sessions, users};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chat_core::auth::cookies;
use chat_core::auth::password::Verified;
use chat_core::auth::{AccountStatus, Password, PasswordHash};
use chat_core::spin::auth::now_unix;
use chat_core::spin::{ApiJson, Db, RequestContext};
use chat_core::{Error, ErrorCode};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    username: String,
    password: String,
}

fn invalid() -> Error {
    Error::new(ErrorCode::InvalidCredentials, "Wrong username or password.")
}

/// Only an active account signs in; the others hear why (after the password matched).
fn may_sign_in(status: AccountStatus) -> Result<(), Error> {
    match status {
        AccountStatus::Active => Ok(()),
        AccountStatus::Pending => Err(Error::new(
            ErrorCode::AccountPending,
            "This account is waiting for an admin's approval.",
        )),
        AccountStatus::Disabled => Err(Error::new(
            ErrorCode::AccountDisabled,
            "This account is disabled.",
        )),
    }
}

pub async fn post(
    ctx: RequestContext,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Body>,
) -> Result<Response, Error> {
    let s = settings().await?;
    let client = Client::from(&ctx, &headers);
    let key = body.username.trim().to_ascii_lowercase();
    let db = Db::open().await?;
    let now = now_unix();
    let ip = client.ip.clone().unwrap_or_else(|| "unknown".into());
    let window = s.login_window_secs;
    let ip_limit_key = format!("login:ip:{ip}");
    limits::hit(&db, &ip_limit_key, s.login_max_attempts_per_ip, window, now).await?;
    let user_limit_key = format!("login:user:{key}");
    limits::hit(&db, &user_limit_key, s.login_max_failures, window, now).await?;

    let password = Password::for_verification(&body.password)?;
    let user = users::by_username_key(&db, &key).await?;
    // Unknown users are checked against a dummy hash so both answers take as long.
    let stored = user
        .as_ref()
        .map(|u| PasswordHash::from_stored(u.password_hash.clone()))
        .unwrap_or_else(PasswordHash::dummy);
    let verified = stored.verify(&password);
    let user = match (user, &verified) {
        (Some(u), Verified::Yes | Verified::YesRehash) => u,
        (user, _) => {
            audit::record(
                &db,
                "login_failed",
                user.as_ref().map(|u| u.id.as_str()),
                &client,
                serde_json::json!({ "username": key }),
            )
            .await?;
            return Err(invalid());
        }
    };
    may_sign_in(user.status)?;
    limits::reset(&db, &user_limit_key).await?;
    if verified == Verified::YesRehash {
        let fresh = PasswordHash::hash(&password)?;
        users::set_password_hash(&db, &user.id, &fresh).await?;
    }
    let tokens = sessions::start(&db, &user, &client).await?;
    audit::record(
        &db,
        "login_ok",
        Some(&user.id),
        &client,
        serde_json::Value::Null,
    )
    .await?;
    sessions::respond(StatusCode::OK, tokens, cookies::wanted(&headers)).await
}
