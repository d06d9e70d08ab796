//! Writing a conversation's settings: the validated fields of create, update and import, and
//! the tag index kept beside the row.

use chat_core::Error;
use chat_core::conversation::{ModelName, ModelOptions, SystemPrompt, Tags, Title};
use chat_core::spin::{Db, Value};

/// A conversation's settings, all valid.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub title: Option<Title>,
    pub model: Option<ModelName>,
    pub system_prompt: Option<SystemPrompt>,
    pub options: Option<ModelOptions>,
    pub pinned: bool,
    pub archived: bool,
    pub tags: Tags,
}

impl Settings {
    pub fn parse(
        title: Option<String>,
        model: Option<String>,
        system_prompt: Option<String>,
        options: Option<serde_json::Value>,
        tags: Option<Vec<String>>,
    ) -> Result<Self, Error> {
        Ok(Self {
            title: title.as_deref().map(Title::parse).transpose()?.flatten(),
            model: model.as_deref().map(ModelName::parse).transpose()?,
            system_prompt: system_prompt
                .as_deref()
                .map(SystemPrompt::parse)
                .transpose()?
                .flatten(),
            options: options.map(ModelOptions::parse).transpose()?.flatten(),
            pinned: false,
            archived: false,
            tags: tags.map(Tags::parse).transpose()?.unwrap_or_default(),
        })
    }

    pub fn params(&self) -> [Value; 7] {
        let text = |s: Option<&str>| s.map_or(Value::Null, |s| Value::Text(s.into()));
        [
            text(self.title.as_ref().map(Title::as_str)),
            text(self.model.as_ref().map(ModelName::as_str)),
            text(self.system_prompt.as_ref().map(SystemPrompt::as_str)),
            self.options
                .as_ref()
                .map_or(Value::Null, |o| Value::Text(o.to_json())),
            Value::Integer(i64::from(self.pinned)),
            Value::Integer(i64::from(self.archived)),
            Value::Text(self.tags.to_json()),
        ]
    }
}

/// Inserts a conversation with these settings.
pub async fn insert(
    db: &Db,
    user_id: &str,
    id: &str,
    s: &Settings,
    now: &str,
) -> Result<(), Error> {
    let mut params = vec![Value::Text(id.into()), Value::Text(user_id.into())];
    params.extend(s.params());
    params.extend([Value::Text(now.into()), Value::Text(now.into())]);
    db.execute(
        "INSERT INTO conversations (id, user_id, title, model, system_prompt, options, pinned,
                                    archived, tags, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params,
    )
    .await?;
    write_tags(db, user_id, id, &s.tags).await
}

/// Replaces the tag index rows of a conversation.
pub async fn write_tags(db: &Db, user_id: &str, id: &str, tags: &Tags) -> Result<(), Error> {
    db.execute(
        "DELETE FROM conversation_tags WHERE conversation_id = ?",
        vec![Value::Text(id.into())],
    )
    .await?;
    for tag in tags.as_slice() {
        db.execute(
            "INSERT OR IGNORE INTO conversation_tags (conversation_id, user_id, tag) VALUES (?, ?, ?)",
            vec![
                Value::Text(id.into()),
                Value::Text(user_id.into()),
                Value::Text(tag.clone()),
            ],
        )
        .await?;
    }
    Ok(())
}
