//! Users: rows, the public view, and the queries every route shares.

use chat_core::auth::{AccountStatus, Role};
use chat_core::spin::{Db, Value};
use chat_core::{Error, ErrorCode};
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub password_hash: String,
    pub role: Role,
    pub status: AccountStatus,
    pub created_at: String,
}

chat_core::from_columns!(UserRow {
    id,
    username,
    display_name,
    email,
    password_hash,
    role,
    status,
    created_at,
});

impl UserRow {
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id.clone(),
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            email: self.email.clone(),
            role: self.role,
            status: self.status,
            created_at: self.created_at.clone(),
        }
    }
}

/// The user object of the API.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub role: Role,
    pub status: AccountStatus,
    pub created_at: String,
}

#[derive(Serialize)]
pub struct UserEnvelope {
    pub user: UserView,
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<UserRow>, Error> {
    db.query_opt(chat_store::users::BY_ID, vec![Value::Text(id.into())])
        .await
}

pub async fn by_username_key(db: &Db, key: &str) -> Result<Option<UserRow>, Error> {
    db.query_opt(
        chat_store::users::BY_USERNAME_KEY,
        vec![Value::Text(key.into())],
    )
    .await
}

/// The signed-in user's row; a principal whose user is gone is unauthenticated.
pub async fn current(db: &Db, user_id: &str) -> Result<UserRow, Error> {
    by_id(db, user_id)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::Unauthenticated, "This account no longer exists."))
}

/// Stores a new password hash for a user.
pub async fn set_password_hash(
    db: &Db,
    user_id: &str,
    hash: &chat_core::auth::PasswordHash,
) -> Result<(), Error> {
    db.execute(
        chat_store::users::SET_PASSWORD,
        vec![
            Value::Text(hash.as_str().into()),
            Value::Text(chat_core::time::now_rfc3339()),
            Value::Text(user_id.into()),
        ],
    )
    .await
    .map(|_| ())
}

pub struct Count(pub i64);

chat_core::from_columns!(Count(n));

/// Display names: trimmed, at most 100 characters, no control characters; empty means none.
pub fn display_name(raw: Option<String>) -> Result<Option<String>, Error> {
    let Some(raw) = raw else { return Ok(None) };
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if trimmed.chars().count() > 100 || trimmed.chars().any(char::is_control) {
        return Err(Error::validation(
            "display_name",
            "A display name has at most 100 characters and no control characters.",
        ));
    }
    Ok(Some(trimmed.to_string()))
}

/// Emails: a plausible address (something@domain.tld), at most 254 characters; empty = none.
pub fn email(raw: Option<String>) -> Result<Option<String>, Error> {
    let Some(raw) = raw else { return Ok(None) };
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let valid = trimmed.len() <= 254
        && !trimmed.chars().any(|c| c.is_whitespace() || c.is_control())
        && trimmed.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if !valid {
        return Err(Error::validation(
            "email",
            "This is not a valid email address.",
        ));
    }
    Ok(Some(trimmed.to_string()))
}
