//! The conversation list: filters, keyset pagination on (`updated_at`, `id`) newest first,
//! and signed cursors scoped to the caller and the filters (so another user's cursor, or a
//! cursor from another filter, is refused).

use chat_core::Error;
use chat_core::cursor::Page;
use chat_core::spin::auth::key_pepper;
use chat_core::spin::{Db, Value};
use chat_domain::conversation::ConversationView;
use chat_domain::rows::ConversationRow;

/// Which conversations a list shows.
#[derive(Debug, Clone)]
pub struct Filter {
    pub archived: bool,
    pub pinned: Option<bool>,
    pub tag: Option<String>,
}

impl Filter {
    /// The parameters of `chat_store::conversations::filter` for this filter.
    pub fn params(&self, user_id: &str) -> Vec<Value> {
        let mut params = vec![
            Value::Text(user_id.into()),
            Value::Integer(i64::from(self.archived)),
        ];
        if let Some(p) = self.pinned {
            params.push(Value::Integer(i64::from(p)));
        }
        if let Some(t) = &self.tag {
            params.push(Value::Text(user_id.into()));
            params.push(Value::Text(t.clone()));
        }
        params
    }

    /// Whether it filters on pinned, and on a tag (the shape of the statement).
    pub fn shape(&self) -> (bool, bool) {
        (self.pinned.is_some(), self.tag.is_some())
    }

    /// The cursor scope: the list, the caller and the filters.
    pub fn scope(&self, list: &str, user_id: &str, extra: &str) -> String {
        format!(
            "{list}\0{user_id}\0{}\0{:?}\0{}\0{extra}",
            self.archived,
            self.pinned,
            self.tag.as_deref().unwrap_or_default()
        )
    }
}

/// One page of the plain (not search) list.
pub async fn page(
    db: &Db,
    user_id: &str,
    filter: &Filter,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Page<ConversationView>, Error> {
    let key = key_pepper().await?;
    let scope = filter.scope("conversations", user_id, "");
    let after: Option<(String, String)> = cursor
        .map(|c| chat_core::cursor::decode(key.as_bytes(), &scope, c))
        .transpose()?;
    let (pinned, tag) = filter.shape();
    let sql = chat_store::conversations::page(pinned, tag, after.is_some());
    let mut params = filter.params(user_id);
    if let Some((updated_at, id)) = after {
        params.extend([Value::Text(updated_at), Value::Text(id)]);
    }
    params.push(Value::Integer(i64::from(limit) + 1));
    let mut rows: Vec<ConversationRow> = db
        .query_packed(&sql, chat_store::conversations::COLUMNS, params)
        .await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|r| {
            chat_core::cursor::encode(
                key.as_bytes(),
                &scope,
                &(r.updated_at.clone(), r.id.clone()),
            )
        })
    } else {
        None
    };
    Ok(Page {
        items: rows.iter().map(ConversationRow::view).collect(),
        next_cursor,
    })
}
