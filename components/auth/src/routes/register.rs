//! `POST /api/auth/register`: create an account. The first user ever is an admin; later ones
//! follow the `signup` variable (open: active at once; approval: pending; closed: refused).

use crate::audit::{self, Client};
use crate::settings::{Signup, settings};
use crate::users::{self, Count, UserEnvelope, UserRow};
use crate::{security, sessions};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chat_core::auth::cookies;
use chat_core::auth::{AccountStatus, Password, PasswordHash, Role, Username};
use chat_core::spin::{ApiJson, Db, RequestContext, Value};
use chat_core::{Error, ErrorCode, time};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    username: String,
    password: String,
    display_name: Option<String>,
    email: Option<String>,
}

pub async fn post(
    ctx: RequestContext,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Body>,
) -> Result<Response, Error> {
    let username = Username::parse(&body.username)?;
    let display_name = users::display_name(body.display_name)?;
    let email = users::email(body.email)?;
    let personal: Vec<&str> = [
        Some(username.as_str()),
        display_name.as_deref(),
        email.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let password = Password::parse(&body.password, &personal)?;
    // Hash before taking the write lock: it is the slow part.
    let hash = PasswordHash::hash(&password)?;
    let signup = settings().await?.signup;
    let client = Client::from(&ctx, &headers);

    let db = Db::open().await?;
    db.begin().await?;
    let user = match insert(&db, &username, display_name, email, &hash, signup).await {
        Ok(u) => {
            db.commit().await?;
            u
        }
        Err(e) => {
            db.rollback().await;
            return Err(e);
        }
    };
    security::set_account(&user.id, user.status, user.role).await?;
    audit::record(
        &db,
        "user_registered",
        Some(&user.id),
        &client,
        serde_json::json!({ "role": user.role, "status": user.status }),
    )
    .await?;
    if !user.status.is_active() {
        return Ok((
            StatusCode::CREATED,
            ApiJson(UserEnvelope { user: user.view() }),
        )
            .into_response());
    }
    let tokens = sessions::start(&db, &user, &client).await?;
    sessions::respond(StatusCode::CREATED, tokens, cookies::wanted(&headers)).await
}

async fn insert(
    db: &Db,
    username: &Username,
    display_name: Option<String>,
    email: Option<String>,
    hash: &PasswordHash,
    signup: Signup,
) -> Result<UserRow, Error> {
    if users::by_username_key(db, &username.key()).await?.is_some() {
        return Err(
            Error::new(ErrorCode::UsernameTaken, "This username is taken.")
                .detail("field", "username"),
        );
    }
    let existing: Option<Count> = db.query_opt(chat_store::users::COUNT, vec![]).await?;
    let first = existing.map(|c| c.0 == 0).unwrap_or(true);
    let (role, status) = match (first, signup) {
        (true, _) => (Role::Admin, AccountStatus::Active),
        (false, Signup::Open) => (Role::User, AccountStatus::Active),
        (false, Signup::Approval) => (Role::User, AccountStatus::Pending),
        (false, Signup::Closed) => {
            return Err(Error::new(
                ErrorCode::SignupDisabled,
                "Sign-up is closed on this server.",
            ));
        }
    };
    let now = time::now_rfc3339();
    let user = UserRow {
        id: chat_core::ids::new_id(),
        username: username.as_str().to_string(),
        display_name,
        email,
        password_hash: hash.as_str().to_string(),
        role,
        status,
        created_at: now.clone(),
    };
    db.execute(
        chat_store::users::INSERT,
        vec![
            Value::Text(user.id.clone()),
            Value::Text(user.username.clone()),
            Value::Text(username.key()),
            user.display_name
                .clone()
                .map(Value::Text)
                .unwrap_or(Value::Null),
            user.email.clone().map(Value::Text).unwrap_or(Value::Null),
            Value::Text(user.password_hash.clone()),
            Value::Text(user.role.as_str().into()),
            Value::Text(user.status.as_str().into()),
            Value::Text(now.clone()),
            Value::Text(now),
        ],
    )
    .await?;
    Ok(user)
}
