//! `GET /api/conversations/{id}/messages`: the conversation's messages, oldest first, in
//! pages. The cursor is the last message's position, scoped to the caller and conversation.

use chat_core::Error;
use chat_core::cursor::{Page, PageQuery};
use chat_core::ids::ConversationId;
use chat_core::spin::auth::{Authenticated, key_pepper};
use chat_core::spin::{ApiJson, ApiQuery, Db, Value};
use chat_domain::conversation::MessageView;
use chat_domain::rows::{MessageRow, owned};

pub async fn get(
    Authenticated(principal): Authenticated,
    id: ConversationId,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<MessageView>>, Error> {
    let limit = chat_core::cursor::limit(q.limit)?;
    let db = Db::open().await?;
    let conversation = owned(&db, &principal.user_id, &id).await?;
    let key = key_pepper().await?;
    let scope = format!("messages\0{}\0{}", principal.user_id, conversation.id);
    let after: i64 = match q.cursor.as_deref() {
        Some(c) => chat_core::cursor::decode(key.as_bytes(), &scope, c)?,
        None => 0,
    };
    let mut rows: Vec<MessageRow> = db
        .query(
            chat_store::messages::PAGE,
            vec![
                Value::Text(conversation.id.clone()),
                Value::Integer(after),
                Value::Integer(i64::from(limit) + 1),
            ],
        )
        .await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last()
            .map(|r| chat_core::cursor::encode(key.as_bytes(), &scope, &r.seq))
    } else {
        None
    };
    Ok(ApiJson(Page {
        items: rows.into_iter().map(|r| r.view).collect(),
        next_cursor,
    }))
}
