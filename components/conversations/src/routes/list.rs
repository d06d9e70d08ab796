//! `GET /api/conversations`: the caller's conversations, newest `updated_at` first, filtered
//! by `archived` (default false), `pinned` and `tag`; with `q`, a ranked full-text search.

use crate::listing::{self, Filter};
use crate::search;
use chat_core::Error;
use chat_core::cursor::Page;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, ApiQuery, Db};
use chat_domain::conversation::ConversationView;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    limit: Option<u32>,
    cursor: Option<String>,
    archived: Option<bool>,
    pinned: Option<bool>,
    tag: Option<String>,
    q: Option<String>,
}

pub async fn get(
    Authenticated(principal): Authenticated,
    ApiQuery(q): ApiQuery<Query>,
) -> Result<ApiJson<Page<ConversationView>>, Error> {
    let limit = chat_core::cursor::limit(q.limit)?;
    let filter = Filter {
        archived: q.archived.unwrap_or(false),
        pinned: q.pinned,
        tag: q
            .tag
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty()),
    };
    let db = Db::open().await?;
    let uid = &principal.user_id;
    let cursor = q.cursor.as_deref();
    let page = match q.q.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => {
            search::page(&db, uid, &filter, text, limit, cursor).await?
        }
        _ => listing::page(&db, uid, &filter, limit, cursor).await?,
    };
    Ok(ApiJson(page))
}
