//! `GET /api/shared/{token}`: a shared conversation, without sign-in. Shows the title, the
//! model and the messages (role, content, time), nothing about the owner, nothing else.

use chat_core::Error;
use chat_core::auth::secrets::sha256_hex;
use chat_core::spin::IdPath;
use chat_core::spin::{ApiJson, Db, Value};
use chat_domain::rows::{ConversationRow, all_messages};
use serde::Serialize;

#[derive(Serialize)]
pub struct Shared {
    title: Option<String>,
    model: Option<String>,
    created_at: String,
    messages: Vec<SharedMessage>,
}

#[derive(Serialize)]
pub struct SharedMessage {
    role: chat_domain::conversation::MessageRole,
    content: String,
    created_at: String,
}

pub async fn get(IdPath(token): IdPath) -> Result<ApiJson<Shared>, Error> {
    let not_found = || Error::not_found("Shared conversation");
    // Tokens are 43 base64url characters; anything else cannot match.
    if token.len() != 43
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(not_found());
    }
    let db = Db::open().await?;
    let c: ConversationRow = db
        .query_opt(
            chat_store::conversations::SHARED,
            vec![Value::Text(sha256_hex(&token))],
        )
        .await?
        .ok_or_else(not_found)?;
    let messages = all_messages(&db, &c.id)
        .await?
        .into_iter()
        .map(|m| SharedMessage {
            role: m.view.role,
            content: m.view.content,
            created_at: m.view.created_at,
        })
        .collect();
    Ok(ApiJson(Shared {
        title: c.title,
        model: c.model,
        created_at: c.created_at,
        messages,
    }))
}
