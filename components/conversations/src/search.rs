//! Full-text search (`GET /api/conversations?q=`): message contents and titles through
//! FTS5, ranked by BM25 summed per conversation (title hits weigh double), each result with a
//! `snippet` of its best hit. Only the caller's index entries are read: the owner is a token
//! of the index. Pagination is keyset on (score, id), signed and scoped to the query.

use crate::listing::{Filter, Page};
use chat_core::Error;
use chat_core::search::SearchQuery;
use chat_core::spin::auth::key_pepper;
use chat_core::spin::conversations::{CONVERSATION_COLUMNS, ConversationRow};
use chat_core::spin::{Db, FromRow, Row, Value};
use std::collections::HashMap;

struct Scored {
    row: ConversationRow,
    score: f64,
}

impl FromRow for Scored {
    fn from_row(row: &Row<'_>) -> Result<Self, Error> {
        Ok(Self {
            row: ConversationRow::from_row(row)?,
            score: row.real("score")?,
        })
    }
}

struct Hit {
    cid: String,
    score: f64,
    snippet: Option<String>,
}

impl FromRow for Hit {
    fn from_row(row: &Row<'_>) -> Result<Self, Error> {
        Ok(Self {
            cid: row.text("cid")?,
            score: row.real("score")?,
            snippet: row.opt_text("snippet")?,
        })
    }
}

const HITS: &str = "
    SELECT m.conversation_id AS cid, bm25(messages_fts, 0.0, 1.0) AS score
      FROM messages_fts JOIN messages m ON m.seq = messages_fts.rowid
     WHERE messages_fts MATCH ?
    UNION ALL
    SELECT c.id AS cid, 2.0 * bm25(titles_fts, 0.0, 1.0) AS score
      FROM titles_fts JOIN conversations c ON c.seq = titles_fts.rowid
     WHERE titles_fts MATCH ?";

pub async fn page(
    db: &Db,
    user_id: &str,
    filter: &Filter,
    raw_query: &str,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Page, Error> {
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
    let (mut sql, mut params) = filter.sql(user_id);
    if let Some((score, id)) = after {
        sql.push_str(" AND (r.score, c.id) > (?, ?)");
        params.extend([Value::Real(score), Value::Text(id)]);
    }
    let mut all = vec![
        Value::Text(in_messages.clone()),
        Value::Text(in_titles.clone()),
    ];
    all.extend(params);
    all.push(Value::Integer(i64::from(limit) + 1));
    let mut rows: Vec<Scored> = db
        .query(
            &format!(
                "WITH hits AS ({HITS}),
                      ranked AS (SELECT cid, SUM(score) AS score FROM hits GROUP BY cid)
                 SELECT {CONVERSATION_COLUMNS}, r.score AS score
                   FROM ranked r JOIN conversations c ON c.id = r.cid
                  WHERE {sql}
                  ORDER BY r.score, c.id LIMIT ?"
            ),
            all,
        )
        .await?;
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

/// The best hit's snippet for each conversation of the page (computed for the page only:
/// snippets are the costly part of a search).
async fn snippets(
    db: &Db,
    in_messages: &str,
    in_titles: &str,
    rows: &[Scored],
) -> Result<HashMap<String, String>, Error> {
    if rows.is_empty() {
        return Ok(HashMap::new());
    }
    let marks = vec!["?"; rows.len()].join(", ");
    let ids = rows.iter().map(|r| Value::Text(r.row.id.clone()));
    let mut params = vec![Value::Text(in_messages.into())];
    params.extend(ids.clone());
    params.push(Value::Text(in_titles.into()));
    params.extend(ids);
    let hits: Vec<Hit> = db
        .query(
            &format!(
                "SELECT m.conversation_id AS cid, bm25(messages_fts, 0.0, 1.0) AS score,
                        snippet(messages_fts, 1, '**', '**', '…', 24) AS snippet
                   FROM messages_fts JOIN messages m ON m.seq = messages_fts.rowid
                  WHERE messages_fts MATCH ? AND m.conversation_id IN ({marks})
                 UNION ALL
                 SELECT c.id AS cid, 2.0 * bm25(titles_fts, 0.0, 1.0) AS score,
                        highlight(titles_fts, 1, '**', '**') AS snippet
                   FROM titles_fts JOIN conversations c ON c.seq = titles_fts.rowid
                  WHERE titles_fts MATCH ? AND c.id IN ({marks})"
            ),
            params,
        )
        .await?;
    let mut best: HashMap<String, (f64, String)> = HashMap::new();
    for h in hits {
        let snippet = h.snippet.unwrap_or_default();
        match best.get(&h.cid) {
            Some((s, _)) if *s <= h.score => {}
            _ => {
                best.insert(h.cid, (h.score, snippet));
            }
        }
    }
    Ok(best.into_iter().map(|(k, (_, s))| (k, s)).collect())
}
