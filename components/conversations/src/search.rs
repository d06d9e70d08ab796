//! Full-text search (`GET /api/conversations?q=`): message contents and titles through
//! FTS5, ranked by BM25 summed per conversation (title hits weigh double), each result with a
//! `snippet` of its best hit. Only the caller's index entries are read: the owner is a token
//! of the index. Pagination is keyset on (score, id), signed and scoped to the query, with the
//! last result's score read anew for each page (scores move as anyone writes).

use crate::listing::Filter;
use crate::search_query::SearchQuery;
use chat_core::Error;
use chat_core::cursor::Page;
use chat_core::spin::auth::key_pepper;
use chat_core::spin::{Db, FromRow, Row, Value};
use chat_domain::conversation::ConversationView;
use chat_domain::rows::ConversationRow;
use std::collections::HashMap;

/// A result: the conversation, its score, and where its best hit is (a message's or the
/// title's index row), for the snippet.
struct Scored {
    row: ConversationRow,
    score: f64,
    best_in_title: bool,
    best_seq: i64,
}

impl FromRow for Scored {
    fn from_row(row: &Row<'_>) -> Result<Self, Error> {
        Ok(Self {
            row: ConversationRow::from_row(row)?,
            score: row.real("score")?,
            best_in_title: row.int("best_in_title")? != 0,
            best_seq: row.int("best_seq")?,
        })
    }
}

struct Snippet {
    seq: i64,
    snippet: Option<String>,
}

chat_core::from_columns!(Snippet { seq, snippet });

pub async fn page(
    db: &Db,
    user_id: &str,
    filter: &Filter,
    raw_query: &str,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Page<ConversationView>, Error> {
    let key = key_pepper().await?;
    let scope = filter.scope("search", user_id, raw_query);
    let after: Option<(f64, String)> = cursor
        .map(|c| chat_core::cursor::decode(key.as_bytes(), &scope, c))
        .transpose()?;
    let Some(query) = SearchQuery::parse(raw_query)? else {
        return Ok(Page {
            items: vec![],
            next_cursor: None,
        });
    };
    let in_messages = query.fts5(user_id, "content");
    let in_titles = query.fts5(user_id, "title");
    let (pinned, tag) = filter.shape();
    let sql = chat_store::conversations::search_page(pinned, tag, after.is_some());
    let mut params = vec![
        Value::Text(in_messages.clone()),
        Value::Text(in_titles.clone()),
    ];
    params.extend(filter.params(user_id));
    if let Some((score, id)) = after {
        // The last result's score as it is now, or the cursor's if it no longer matches.
        params.extend([Value::Text(id.clone()), Value::Real(score), Value::Text(id)]);
    }
    params.push(Value::Integer(i64::from(limit) + 1));
    let mut rows: Vec<Scored> = db.query(&sql, params).await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|r| {
            chat_core::cursor::encode(key.as_bytes(), &scope, &(r.score, r.row.id.clone()))
        })
    } else {
        None
    };
    let snippets = snippets(db, &in_messages, &in_titles, &rows).await?;
    let items = rows
        .iter()
        .map(|r| {
            let mut v = r.row.view();
            v.snippet = Some(snippets.get(&r.row.id).cloned().unwrap_or_default());
            v
        })
        .collect();
    Ok(Page { items, next_cursor })
}

/// The snippet of each result's best hit. Only those rows are read (by rowid): snippets are
/// the costly part of a search, so they are made for the page only.
async fn snippets(
    db: &Db,
    in_messages: &str,
    in_titles: &str,
    rows: &[Scored],
) -> Result<HashMap<String, String>, Error> {
    let mut out = HashMap::new();
    for (in_title, query) in [(false, in_messages), (true, in_titles)] {
        let wanted: Vec<&Scored> = rows
            .iter()
            .filter(|r| r.best_in_title == in_title)
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let sql = chat_store::conversations::snippets(in_title, wanted.len());
        let mut params = vec![Value::Text(query.into())];
        params.extend(wanted.iter().map(|r| Value::Integer(r.best_seq)));
        let found: Vec<Snippet> = db.query(&sql, params).await?;
        for f in found {
            if let Some(r) = wanted.iter().find(|r| r.best_seq == f.seq) {
                out.insert(r.row.id.clone(), f.snippet.unwrap_or_default());
            }
        }
    }
    Ok(out)
}
