//! Full-text search (`GET /api/conversations?q=`): message contents and titles through
//! FTS5, ranked by BM25 summed per conversation (title hits weigh double), each result with a
//! `snippet` of its best hit. Only the caller's index entries are read: the owner is a token
//! of the index. Pagination is keyset on (score, id), signed and scoped to the query, with the
//! last result's score read anew for each page (scores move as anyone writes).

use crate::listing::Filter;
use chat_core::Error;
use chat_core::conversation::ConversationView;
use chat_core::cursor::Page;
use chat_core::search::SearchQuery;
use chat_core::spin::auth::key_pepper;
use chat_core::spin::conversations::{CONVERSATION_COLUMNS, ConversationRow};
use chat_core::spin::{Db, FromRow, Row, Value};
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

/// Every hit of the caller's: message hits and title hits (weighing double).
const HITS: &str = "
    SELECT m.conversation_id AS cid, bm25(messages_fts, 0.0, 1.0) AS score,
           0 AS in_title, messages_fts.rowid AS seq
      FROM messages_fts JOIN messages m ON m.seq = messages_fts.rowid
     WHERE messages_fts MATCH ?
    UNION ALL
    SELECT c.id AS cid, 2.0 * bm25(titles_fts, 0.0, 1.0) AS score,
           1 AS in_title, titles_fts.rowid AS seq
      FROM titles_fts JOIN conversations c ON c.seq = titles_fts.rowid
     WHERE titles_fts MATCH ?";

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
    let (mut sql, mut params) = filter.sql(user_id);
    if let Some((score, id)) = after {
        // After the last result's score as it is now, not as the cursor has it: BM25 reads
        // statistics of the whole index, which move whenever anyone writes, so a stored
        // score went stale and the next page repeated or skipped results. The cursor's
        // score is the fallback when that conversation no longer matches.
        sql.push_str(
            " AND (r.score, c.id) > \
             (COALESCE((SELECT score FROM ranked WHERE cid = ?), ?), ?)",
        );
        params.extend([Value::Text(id.clone()), Value::Real(score), Value::Text(id)]);
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
                      -- With one MIN(), SQLite takes the bare columns from that row.
                      ranked AS (SELECT cid, SUM(score) AS score, MIN(score) AS best,
                                        in_title, seq FROM hits GROUP BY cid)
                 SELECT {CONVERSATION_COLUMNS}, r.score AS score,
                        r.in_title AS best_in_title, r.seq AS best_seq
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

/// The snippet of each result's best hit. Only those rows are read (by rowid): snippets are
/// the costly part of a search, so they are made for the page only.
async fn snippets(
    db: &Db,
    in_messages: &str,
    in_titles: &str,
    rows: &[Scored],
) -> Result<HashMap<String, String>, Error> {
    let mut out = HashMap::new();
    for (in_title, query, sql) in [
        (
            false,
            in_messages,
            "SELECT rowid AS seq, snippet(messages_fts, 1, '**', '**', '…', 24) AS snippet
               FROM messages_fts WHERE messages_fts MATCH ? AND rowid IN",
        ),
        (
            true,
            in_titles,
            "SELECT rowid AS seq, highlight(titles_fts, 1, '**', '**') AS snippet
               FROM titles_fts WHERE titles_fts MATCH ? AND rowid IN",
        ),
    ] {
        let wanted: Vec<&Scored> = rows
            .iter()
            .filter(|r| r.best_in_title == in_title)
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let marks = vec!["?"; wanted.len()].join(", ");
        let mut params = vec![Value::Text(query.into())];
        params.extend(wanted.iter().map(|r| Value::Integer(r.best_seq)));
        let found: Vec<Snippet> = db.query(&format!("{sql} ({marks})"), params).await?;
        for f in found {
            if let Some(r) = wanted.iter().find(|r| r.best_seq == f.seq) {
                out.insert(r.row.id.clone(), f.snippet.unwrap_or_default());
            }
        }
    }
    Ok(out)
}
