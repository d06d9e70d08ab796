//! Conversation and message rows, shared by the conversations and chat components. Every
//! lookup names the owner: another user's conversation is simply not found.

use crate::conversation::{
    ConversationView, MessageRole, MessageView, ModelOptions, Status, Tags, Usage,
};
use chat_core::error::{Error, Result};
use chat_core::ids::ConversationId;
use chat_core::spin::{Column, Db, FromRow, Row, StoredText, Value};
use chat_core::{ids, time};

#[derive(Debug, Clone)]
pub struct ConversationRow {
    pub id: String,
    pub user_id: String,
    pub title: Option<String>,
    pub model: Option<String>,
    pub system_prompt: Option<String>,
    pub options: Option<ModelOptions>,
    pub pinned: bool,
    pub archived: bool,
    pub tags: Tags,
    pub message_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl ConversationRow {
    /// The row's settings. A stored value that no longer passes today's rules (say, a
    /// limit lowered since) reads as none.
    pub fn settings(&self) -> crate::settings::Settings {
        use crate::conversation::{ModelName, SystemPrompt, Title};
        crate::settings::Settings {
            title: self
                .title
                .as_deref()
                .and_then(|t| Title::parse(t).ok().flatten()),
            model: self.model.as_deref().and_then(|m| ModelName::parse(m).ok()),
            system_prompt: self
                .system_prompt
                .as_deref()
                .and_then(|p| SystemPrompt::parse(p).ok().flatten()),
            options: self.options.clone(),
            pinned: self.pinned,
            archived: self.archived,
            tags: self.tags.clone(),
        }
    }
}

chat_core::from_columns!(ConversationRow {
    id,
    user_id,
    title,
    model,
    system_prompt,
    options,
    pinned,
    archived,
    tags,
    message_count,
    created_at,
    updated_at,
});

/// Stored options that no longer parse read as none.
impl StoredText for ModelOptions {
    fn from_stored(text: &str) -> Option<Self> {
        ModelOptions::from_stored(text)
    }
}

impl Column for Tags {
    fn read(row: &Row<'_>, column: &str) -> Result<Self> {
        Ok(Tags::from_stored(&row.text(column)?))
    }
}

impl ConversationRow {
    pub fn view(&self) -> ConversationView {
        ConversationView {
            id: self.id.clone(),
            title: self.title.clone(),
            model: self.model.clone(),
            system_prompt: self.system_prompt.clone(),
            options: self.options.as_ref().map(|o| o.as_map().clone()),
            pinned: self.pinned,
            archived: self.archived,
            tags: self.tags.as_slice().to_vec(),
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            message_count: self.message_count,
            snippet: None,
        }
    }
}

/// Runs `delete` (a statement of `chat_store::conversations` that deletes the caller's
/// conversation `id`, or what hangs off it, returning a row if it did); `404` naming `what`
/// when the caller had none.
pub async fn delete_owned(
    db: &Db,
    delete: &str,
    id: &ConversationId,
    user_id: &str,
    what: &str,
) -> Result<()> {
    let deleted = db
        .changed(
            delete,
            vec![Value::Text(id.to_string()), Value::Text(user_id.into())],
        )
        .await?;
    if deleted == 0 {
        return Err(Error::not_found(what));
    }
    Ok(())
}

/// The caller's conversation `id`, or `404` (also for another user's id).
pub async fn owned(db: &Db, user_id: &str, id: &ConversationId) -> Result<ConversationRow> {
    let not_found = || Error::not_found("Conversation");
    db.query_opt(
        chat_store::conversations::OWNED,
        vec![Value::Text(id.to_string()), Value::Text(user_id.into())],
    )
    .await?
    .ok_or_else(not_found)
}

#[derive(Debug, Clone)]
pub struct MessageRow {
    pub seq: i64,
    pub view: MessageView,
}

impl FromRow for MessageRow {
    fn from_row(row: &Row<'_>) -> Result<Self> {
        Ok(Self {
            seq: row.int("seq")?,
            view: MessageView {
                id: row.text("id")?,
                conversation_id: row.text("conversation_id")?,
                role: MessageRole::from_stored(&row.text("role")?),
                content: row.text("content")?,
                thinking: row.opt_text("thinking")?,
                model: row.opt_text("model")?,
                status: Status::from_stored(&row.text("status")?),
                created_at: row.text("created_at")?,
                usage: row
                    .opt_text("usage")?
                    .and_then(|u| serde_json::from_str::<Usage>(&u).ok()),
            },
        })
    }
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub conversation_id: &'a str,
    pub user_id: &'a str,
    pub role: MessageRole,
    pub content: &'a str,
    pub thinking: Option<&'a str>,
    pub model: Option<&'a str>,
    pub status: Status,
    pub usage: Option<&'a Usage>,
    /// Now, unless given (import keeps a message's time).
    pub created_at: Option<&'a str>,
    /// A new id, unless given (chat names the answer before storing it).
    pub id: Option<&'a str>,
}

/// Stores a message (the conversation's count and `updated_at` follow by trigger) and
/// returns it as the API shows it.
pub async fn insert_message(db: &Db, m: &NewMessage<'_>) -> Result<MessageView> {
    let id = m.id.map_or_else(ids::new_id, str::to_string);
    let created_at = m.created_at.map_or_else(time::now_rfc3339, str::to_string);
    let usage = m.usage.and_then(|u| serde_json::to_string(u).ok());
    let text = |s: Option<&str>| s.map_or(Value::Null, |s| Value::Text(s.into()));
    db.execute(
        chat_store::messages::INSERT,
        vec![
            Value::Text(id.clone()),
            Value::Text(m.conversation_id.into()),
            Value::Text(m.user_id.into()),
            Value::Text(m.role.as_str().into()),
            Value::Text(m.content.into()),
            text(m.thinking),
            text(m.model),
            Value::Text(m.status.as_str().into()),
            text(usage.as_deref()),
            Value::Text(created_at.clone()),
        ],
    )
    .await?;
    Ok(MessageView {
        id,
        conversation_id: m.conversation_id.into(),
        role: m.role,
        content: m.content.into(),
        thinking: m.thinking.map(str::to_string),
        model: m.model.map(str::to_string),
        status: m.status,
        created_at,
        usage: m.usage.cloned(),
    })
}

/// Every message of a conversation, oldest first (export, Markdown).
pub async fn all_messages(db: &Db, conversation_id: &str) -> Result<Vec<MessageRow>> {
    db.query(
        chat_store::messages::ALL_OF,
        vec![Value::Text(conversation_id.into())],
    )
    .await
}
