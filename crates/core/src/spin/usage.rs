//! Counts answers in `usage` for their user and, when called with one, their API key.

use super::{Db, Value};
use crate::auth::principal::{Credential, Principal};
use crate::error::Error;
use crate::usage::{Tokens, day_of};

/// Adds one answer of `model` to today's row of the caller (and key).
pub async fn record(db: &Db, caller: &Principal, model: &str, tokens: Tokens) -> Result<(), Error> {
    let key_id = match &caller.credential {
        Credential::ApiKey(id) => id.clone(),
        Credential::Session(_) => String::new(),
    };
    let now = crate::time::now_rfc3339();
    db.execute(
        "INSERT INTO usage (user_id, day, key_id, model, requests, prompt_tokens, completion_tokens)
         VALUES (?, ?, ?, ?, 1, ?, ?)
         ON CONFLICT (user_id, day, key_id, model) DO UPDATE SET
             requests = requests + 1,
             prompt_tokens = prompt_tokens + excluded.prompt_tokens,
             completion_tokens = completion_tokens + excluded.completion_tokens",
        vec![
            Value::Text(caller.user_id.clone()),
            Value::Text(day_of(&now).to_string()),
            Value::Text(key_id),
            Value::Text(model.to_string()),
            Value::Integer(i64::try_from(tokens.prompt).unwrap_or(i64::MAX)),
            Value::Integer(i64::try_from(tokens.completion).unwrap_or(i64::MAX)),
        ],
    )
    .await
}
