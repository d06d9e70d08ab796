//! Writing a conversation's settings (`chat_domain::settings`) to its row, and
//! the tag index kept beside the row.

use chat_core::Error;
use chat_core::spin::{Db, Value};
use chat_domain::conversation::{ModelName, SystemPrompt, Tags, Title};
use chat_domain::settings::Settings;

/// The settings as the parameters of the `title, model, system_prompt, options, pinned,
/// archived, tags` columns.
pub fn params_of(s: &Settings) -> [Value; 7] {
    let text = |s: Option<&str>| s.map_or(Value::Null, |s| Value::Text(s.into()));
    [
        text(s.title.as_ref().map(Title::as_str)),
        text(s.model.as_ref().map(ModelName::as_str)),
        text(s.system_prompt.as_ref().map(SystemPrompt::as_str)),
        s.options
            .as_ref()
            .map_or(Value::Null, |o| Value::Text(o.to_json())),
        Value::Integer(i64::from(s.pinned)),
        Value::Integer(i64::from(s.archived)),
        Value::Text(s.tags.to_json()),
    ]
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
    params.extend(params_of(s));
    params.extend([Value::Text(now.into()), Value::Text(now.into())]);
    db.execute(chat_store::conversations::INSERT, params)
        .await?;
    write_tags(db, user_id, id, &s.tags).await
}

/// Replaces the tag index rows of a conversation.
pub async fn write_tags(db: &Db, user_id: &str, id: &str, tags: &Tags) -> Result<(), Error> {
    db.execute(
        chat_store::conversations::CLEAR_TAGS,
        vec![Value::Text(id.into())],
    )
    .await?;
    for tag in tags.as_slice() {
        db.execute(
            chat_store::conversations::ADD_TAG,
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
