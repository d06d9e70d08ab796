//! `POST /api/conversations/import`: the JSON that export gives. Everything is validated
//! before anything is written, and it is written in one transaction: a bad item imports
//! nothing. Ids are new; times are kept when they are valid and not in the future.

use crate::export::{FORMAT_VERSION, ImportDocument, ImportedConversation};
use crate::fields;
use axum::http::StatusCode;
use chat_core::Error;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, Db};
use chat_domain::conversation::Status;
use chat_domain::rows::{NewMessage, insert_message};
use chat_domain::settings::Settings;
use serde::Serialize;

#[derive(Serialize)]
pub struct Imported {
    imported: usize,
    ids: Vec<String>,
}

/// A conversation ready to write.
struct Ready {
    settings: Settings,
    created_at: String,
    messages: Vec<crate::export::ImportedMessage>,
    times: Vec<String>,
}

/// A valid RFC 3339 time no later than `now`, normalised; else `now`.
fn time_or_now(raw: Option<&str>, now: &str) -> String {
    raw.and_then(chat_core::time::parse)
        .map(chat_core::time::format)
        .filter(|t| t.as_str() <= now)
        .unwrap_or_else(|| now.to_string())
}

fn check(c: ImportedConversation, now: &str) -> Result<Ready, Error> {
    let mut settings = Settings::parse(c.title, c.model, c.system_prompt, c.options, c.tags)?;
    settings.pinned = c.pinned.unwrap_or(false);
    settings.archived = c.archived.unwrap_or(false);
    let created_at = time_or_now(c.created_at.as_deref(), now);
    let mut times = Vec::with_capacity(c.messages.len());
    for (i, m) in c.messages.iter().enumerate() {
        let at = |f: &str| format!("messages[{i}].{f}");
        if !chat_domain::conversation::is_free_text(&m.content) {
            return Err(Error::validation(
                at("content"),
                "A message has no control characters other than tabs and line breaks.",
            ));
        }
        if let Some(model) = &m.model {
            chat_domain::conversation::ModelName::parse_field(model, &at("model"))?;
        }
        if m.usage.as_ref().is_some_and(|u| !u.is_plausible()) {
            return Err(Error::validation(
                at("usage"),
                "Usage figures are numbers of at least 0.",
            ));
        }
        // A message is never older than its conversation.
        let t = time_or_now(m.created_at.as_deref(), now);
        times.push(if t < created_at {
            created_at.clone()
        } else {
            t
        });
    }
    Ok(Ready {
        settings,
        created_at,
        messages: c.messages,
        times,
    })
}

pub async fn post(
    Authenticated(principal): Authenticated,
    ApiJson(doc): ApiJson<ImportDocument>,
) -> Result<(StatusCode, ApiJson<Imported>), Error> {
    if doc.version.is_some_and(|v| v != FORMAT_VERSION) {
        return Err(Error::validation(
            "version",
            format!("This server reads export format version {FORMAT_VERSION}."),
        ));
    }
    let now = chat_core::time::now_rfc3339();
    let mut ready = Vec::with_capacity(doc.conversations.len());
    for (i, c) in doc.conversations.into_iter().enumerate() {
        ready.push(check(c, &now).map_err(|e| e.within(&format!("conversations[{i}]")))?);
    }
    let db = Db::open().await?;
    let uid = principal.user_id.as_str();
    let ids = db
        .transaction(async |db| {
            let mut ids = Vec::with_capacity(ready.len());
            for r in &ready {
                let id = chat_core::ids::new_id();
                fields::insert(db, uid, &id, &r.settings, &r.created_at).await?;
                for (m, at) in r.messages.iter().zip(&r.times) {
                    insert_message(
                        db,
                        &NewMessage {
                            conversation_id: &id,
                            user_id: uid,
                            role: m.role,
                            content: &m.content,
                            thinking: m.thinking.as_deref(),
                            model: m.model.as_deref(),
                            status: m.status.unwrap_or(Status::Complete),
                            usage: m.usage.as_ref(),
                            created_at: Some(at),
                            id: None,
                        },
                    )
                    .await?;
                }
                ids.push(id);
            }
            Ok(ids)
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(Imported {
            imported: ids.len(),
            ids,
        }),
    ))
}
