//! `PATCH /api/conversations/{id}`: change settings. An absent field stays as it is; `null`
//! clears `title`, `model`, `system_prompt`, `options` and `tags`.

use super::create::Envelope;
use crate::fields;
use chat_core::Error;
use chat_core::conversation::{ModelName, ModelOptions, SystemPrompt, Tags, Title};
use chat_core::json::Patch;
use chat_core::spin::IdPath;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::conversations::owned;
use chat_core::spin::{ApiJson, Db, Value};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    #[serde(default)]
    title: Patch<String>,
    #[serde(default)]
    model: Patch<String>,
    #[serde(default)]
    system_prompt: Patch<String>,
    #[serde(default)]
    options: Patch<serde_json::Value>,
    #[serde(default)]
    pinned: Patch<bool>,
    #[serde(default)]
    archived: Patch<bool>,
    #[serde(default)]
    tags: Patch<Vec<String>>,
}

fn not_null(field: &str) -> Error {
    Error::validation(field, format!("`{field}` is true or false, not null."))
}

pub async fn patch(
    Authenticated(principal): Authenticated,
    IdPath(id): IdPath,
    ApiJson(b): ApiJson<Body>,
) -> Result<ApiJson<Envelope>, Error> {
    // Validate everything before touching the row.
    let title = match b.title {
        Patch::Missing => None,
        Patch::Null => Some(None),
        Patch::Value(t) => Some(Title::parse(&t)?),
    };
    let model = match b.model {
        Patch::Missing => None,
        Patch::Null => Some(None),
        Patch::Value(m) => Some(Some(ModelName::parse(&m)?)),
    };
    let system_prompt = match b.system_prompt {
        Patch::Missing => None,
        Patch::Null => Some(None),
        Patch::Value(p) => Some(SystemPrompt::parse(&p)?),
    };
    let options = match b.options {
        Patch::Missing => None,
        Patch::Null => Some(None),
        Patch::Value(o) => Some(ModelOptions::parse(o)?),
    };
    let tags = match b.tags {
        Patch::Missing => None,
        Patch::Null => Some(Tags::default()),
        Patch::Value(t) => Some(Tags::parse(t)?),
    };
    let pinned = match b.pinned {
        Patch::Null => return Err(not_null("pinned")),
        Patch::Missing => None,
        Patch::Value(v) => Some(v),
    };
    let archived = match b.archived {
        Patch::Null => return Err(not_null("archived")),
        Patch::Missing => None,
        Patch::Value(v) => Some(v),
    };

    let db = Db::open().await?;
    let uid = principal.user_id.as_str();
    db.transaction(async |db| {
        let row = owned(db, uid, &id).await?;
        let mut s = fields::Settings {
            title: row
                .title
                .as_deref()
                .and_then(|t| Title::parse(t).ok().flatten()),
            model: row.model.as_deref().and_then(|m| ModelName::parse(m).ok()),
            system_prompt: row
                .system_prompt
                .as_deref()
                .and_then(|p| SystemPrompt::parse(p).ok().flatten()),
            options: row.options.clone(),
            pinned: row.pinned,
            archived: row.archived,
            tags: row.tags.clone(),
        };
        if let Some(t) = title {
            s.title = t;
        }
        if let Some(m) = model {
            s.model = m;
        }
        if let Some(p) = system_prompt {
            s.system_prompt = p;
        }
        if let Some(o) = options {
            s.options = o;
        }
        if let Some(p) = pinned {
            s.pinned = p;
        }
        if let Some(a) = archived {
            s.archived = a;
        }
        let tags_changed = tags.as_ref().is_some_and(|t| *t != row.tags);
        if let Some(t) = tags {
            s.tags = t;
        }
        let mut params = s.params().to_vec();
        params.extend([
            Value::Text(chat_core::time::now_rfc3339()),
            Value::Text(id.clone()),
        ]);
        db.execute(
            "UPDATE conversations
                SET title = ?, model = ?, system_prompt = ?, options = ?, pinned = ?,
                    archived = ?, tags = ?, updated_at = max(updated_at, ?)
              WHERE id = ?",
            params,
        )
        .await?;
        if tags_changed {
            fields::write_tags(db, uid, &id, &s.tags).await?;
        }
        Ok(())
    })
    .await?;
    let row = owned(&db, uid, &id).await?;
    Ok(ApiJson(Envelope {
        conversation: row.view(),
    }))
}
