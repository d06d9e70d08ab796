//! API keys: `ock_` + 43 random characters. Stored as HMAC-SHA256 under the server's key
//! pepper; the first 12 characters are kept visible to tell keys apart.

use chat_core::auth::secrets::{keyed_hash, random_token};
use chat_core::spin::auth::{API_KEY_PREFIX, key_pepper};
use chat_core::spin::{Db, Value};
use chat_core::{Error, time};
use serde::Serialize;

const VISIBLE: usize = 12;

#[derive(Serialize)]
pub struct KeyCreated {
    pub id: String,
    pub name: String,
    pub key: String,
    pub prefix: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    /// The key's own daily token budget (`null`: none; its user's quota applies either way).
    pub max_tokens_per_day: Option<i64>,
}

#[derive(Serialize)]
pub struct KeyView {
    id: String,
    name: String,
    prefix: String,
    created_at: String,
    expires_at: Option<String>,
    last_used_at: Option<String>,
    max_tokens_per_day: Option<i64>,
}

chat_core::from_columns!(KeyView {
    id,
    name,
    prefix,
    created_at,
    expires_at,
    last_used_at,
    max_tokens_per_day,
});

/// A key's daily token budget: at least 1, or none.
pub fn budget(tokens: Option<i64>) -> Result<Option<i64>, Error> {
    match tokens {
        Some(n) if n < 1 => Err(Error::validation(
            "max_tokens_per_day",
            "`max_tokens_per_day` must be at least 1 (leave it out for no budget).",
        )),
        other => Ok(other),
    }
}

pub fn name(raw: &str) -> Result<String, Error> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::validation(
            "name",
            "A key name has 1 to 100 characters.",
        ));
    }
    Ok(name.to_string())
}

pub fn expiry(days: Option<i64>) -> Result<Option<String>, Error> {
    match days {
        None => Ok(None),
        Some(d) if (1..=3650).contains(&d) => Ok(Some(time::from_now(d * 86_400))),
        Some(_) => Err(Error::validation(
            "expires_in_days",
            "`expires_in_days` must be between 1 and 3650.",
        )),
    }
}

/// What a new key is.
pub struct NewKey<'a> {
    pub name: &'a str,
    pub expires_at: Option<String>,
    pub max_tokens_per_day: Option<i64>,
}

pub async fn create(db: &Db, user_id: &str, new: NewKey<'_>) -> Result<KeyCreated, Error> {
    let NewKey {
        name,
        expires_at,
        max_tokens_per_day,
    } = new;
    let key = format!("{API_KEY_PREFIX}{}", random_token(32)?);
    let prefix: String = key.chars().take(VISIBLE).collect();
    let hash = keyed_hash(key_pepper().await?.as_bytes(), &key);
    let created = KeyCreated {
        id: chat_core::ids::new_id(),
        name: name.to_string(),
        key,
        prefix,
        created_at: time::now_rfc3339(),
        expires_at,
        max_tokens_per_day,
    };
    db.execute(
        chat_store::keys::INSERT,
        vec![
            Value::Text(created.id.clone()),
            Value::Text(user_id.into()),
            Value::Text(created.name.clone()),
            Value::Text(created.prefix.clone()),
            Value::Text(hash),
            Value::Text(created.created_at.clone()),
            created
                .expires_at
                .clone()
                .map(Value::Text)
                .unwrap_or(Value::Null),
            max_tokens_per_day.map_or(Value::Null, Value::Integer),
        ],
    )
    .await?;
    Ok(created)
}
