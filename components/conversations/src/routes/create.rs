//! `POST /api/conversations`: start a conversation.

use crate::fields;
use axum::http::StatusCode;
use chat_core::Error;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, Db};
use chat_domain::rows::owned;
use chat_domain::settings::Settings;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Body {
    title: Option<String>,
    model: Option<String>,
    system_prompt: Option<String>,
    options: Option<serde_json::Value>,
    tags: Option<Vec<String>>,
}

#[derive(Serialize)]
pub struct Envelope {
    pub conversation: chat_domain::conversation::ConversationView,
}

pub async fn post(
    Authenticated(principal): Authenticated,
    body: Option<ApiJson<Body>>,
) -> Result<(StatusCode, ApiJson<Envelope>), Error> {
    // An empty body is an empty conversation.
    let b = body.map(|ApiJson(b)| b).unwrap_or_default();
    let settings = Settings::parse(b.title, b.model, b.system_prompt, b.options, b.tags)?;
    let db = Db::open().await?;
    let id = chat_core::ids::ConversationId::generate();
    let now = chat_core::time::now_rfc3339();
    let uid = &principal.user_id;
    db.transaction(async |db| fields::insert(db, uid, &id, &settings, &now).await)
        .await?;
    let row = owned(&db, uid, &id).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(Envelope {
            conversation: row.view(),
        }),
    ))
}
