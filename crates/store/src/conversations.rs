//! `conversations` (and what hangs off one: its share link): every lookup names the owner, so
//! another user's conversation is simply not found.

use crate::statements;

/// The columns a conversation row is read by (`ConversationRow`), in this order.
#[macro_export]
macro_rules! conversation_columns {
    () => {
        "id, user_id, title, model, system_prompt, options, pinned, archived, tags, \
         message_count, created_at, updated_at"
    };
}

/// The columns a conversation row is read by (`ConversationRow`).
pub const COLUMNS: &str = conversation_columns!();

statements! {
    /// Conversation `?1` of user `?2`.
    OWNED = concat!("SELECT ", conversation_columns!(), " FROM conversations WHERE id = ?1 AND user_id = ?2");
    /// Deletes conversation `?1` of user `?2` (its messages, tags and share link go by
    /// trigger); a row if there was one.
    DELETE_OWNED = "DELETE FROM conversations WHERE id = ?1 AND user_id = ?2 RETURNING 1";
    /// Ends the share link of conversation `?1` of user `?2`; a row if there was one.
    DELETE_SHARE = "DELETE FROM share_links WHERE conversation_id = ?1 AND user_id = ?2 RETURNING 1";
    /// Titles conversation `?2` `?1`, unless it has a title by now.
    SET_TITLE_IF_NONE = "UPDATE conversations SET title = ?1 WHERE id = ?2 AND title IS NULL";
    /// Conversation `?2` was active at `?1` (never moves back).
    TOUCH = "UPDATE conversations SET updated_at = max(updated_at, ?1) WHERE id = ?2";
    /// Stores conversation `?1` of user `?2`: title, model, system prompt, options (JSON),
    /// pinned, archived, tags (JSON), created and updated at are `?3` to `?11`.
    INSERT = "INSERT INTO conversations (id, user_id, title, model, system_prompt, options, pinned,
                                         archived, tags, created_at, updated_at)
              VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
    /// Conversation `?9`'s settings: title, model, system prompt, options, pinned, archived,
    /// tags `?1` to `?7`, active at `?8` (never moves back).
    UPDATE = "UPDATE conversations
                 SET title = ?1, model = ?2, system_prompt = ?3, options = ?4, pinned = ?5,
                     archived = ?6, tags = ?7, updated_at = max(updated_at, ?8)
               WHERE id = ?9";
    /// Every conversation of user `?1`, oldest first (export).
    ALL_OF_USER = concat!("SELECT ", conversation_columns!(), " FROM conversations WHERE user_id = ?1
                           ORDER BY created_at, id");
    /// The conversation shared by the link whose token hashes to `?1`.
    SHARED = concat!("SELECT ", conversation_columns!(), " FROM conversations
                       WHERE id = (SELECT conversation_id FROM share_links WHERE token_hash = ?1)");
    /// Shares conversation `?2` of user `?3` by the token hashing to `?1` at `?4`, replacing
    /// its link if it had one.
    SHARE = "INSERT INTO share_links (token_hash, conversation_id, user_id, created_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (conversation_id) DO UPDATE
                SET token_hash = excluded.token_hash, created_at = excluded.created_at";
    /// Conversation `?1` has no tags (before they are written anew).
    CLEAR_TAGS = "DELETE FROM conversation_tags WHERE conversation_id = ?1";
    /// Conversation `?1` of user `?2` has tag `?3`.
    ADD_TAG = "INSERT OR IGNORE INTO conversation_tags (conversation_id, user_id, tag) VALUES (?1, ?2, ?3)";
}

/// Which conversations a list or a search shows: the conditions on alias `c`, with their
/// parameters in this order: the user, archived (0 or 1), then pinned (0 or 1) if `pinned`,
/// then the user and the tag if `tag`.
pub fn filter(pinned: bool, tag: bool) -> String {
    let mut sql = String::from("c.user_id = ? AND c.archived = ?");
    if pinned {
        sql.push_str(" AND c.pinned = ?");
    }
    if tag {
        sql.push_str(
            " AND c.id IN (SELECT conversation_id FROM conversation_tags WHERE user_id = ? AND tag = ?)",
        );
    }
    sql
}

/// A page of the list, newest activity first: [`filter`]'s parameters, then if `after` the
/// last row's `updated_at` and id, then the number of rows.
pub fn page(pinned: bool, tag: bool, after: bool) -> String {
    let mut conditions = filter(pinned, tag);
    if after {
        conditions.push_str(" AND (c.updated_at, c.id) < (?, ?)");
    }
    format!(
        "SELECT {COLUMNS} FROM conversations c WHERE {conditions}
         ORDER BY c.updated_at DESC, c.id DESC LIMIT ?"
    )
}

/// Every hit of a search: message hits and title hits (weighing double). Parameters: the
/// FTS5 query over messages, then over titles.
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

/// A page of a search, best first: rows with the conversation's columns, `score`,
/// `best_in_title` and `best_seq` (where its best hit is). Parameters: the two FTS5 queries
/// ([`HITS`]), [`filter`]'s, then if `after` the last result's id, its score as the cursor has
/// it and its id again, then the number of rows.
pub fn search_page(pinned: bool, tag: bool, after: bool) -> String {
    let mut conditions = filter(pinned, tag);
    if after {
        // After the last result's score as it is now, not as the cursor has it: BM25 reads
        // statistics of the whole index, which move whenever anyone writes, so a stored
        // score went stale and the next page repeated or skipped results. The cursor's
        // score is the fallback when that conversation no longer matches.
        conditions.push_str(
            " AND (r.score, c.id) > \
             (COALESCE((SELECT score FROM ranked WHERE cid = ?), ?), ?)",
        );
    }
    format!(
        "WITH hits AS ({HITS}),
              -- With one MIN(), SQLite takes the bare columns from that row.
              ranked AS (SELECT cid, SUM(score) AS score, MIN(score) AS best,
                                in_title, seq FROM hits GROUP BY cid)
         SELECT {COLUMNS}, r.score AS score,
                r.in_title AS best_in_title, r.seq AS best_seq
           FROM ranked r JOIN conversations c ON c.id = r.cid
          WHERE {conditions}
          ORDER BY r.score, c.id LIMIT ?"
    )
}

/// The snippets (`seq`, `snippet`) of `n` index rows, of titles if `in_titles` else of
/// messages. Parameters: the FTS5 query, then the `n` rowids.
pub fn snippets(in_titles: bool, n: usize) -> String {
    let marks = vec!["?"; n].join(", ");
    if in_titles {
        format!(
            "SELECT rowid AS seq, highlight(titles_fts, 1, '**', '**') AS snippet
               FROM titles_fts WHERE titles_fts MATCH ? AND rowid IN ({marks})"
        )
    } else {
        format!(
            "SELECT rowid AS seq, snippet(messages_fts, 1, '**', '**', '…', 24) AS snippet
               FROM messages_fts WHERE messages_fts MATCH ? AND rowid IN ({marks})"
        )
    }
}

/// The built statements in each of their shapes, for the schema test.
pub fn built() -> Vec<(String, String)> {
    let mut all = Vec::new();
    for pinned in [false, true] {
        for tag in [false, true] {
            for after in [false, true] {
                let shape = format!("(pinned {pinned}, tag {tag}, after {after})");
                all.push((format!("page{shape}"), page(pinned, tag, after)));
                all.push((
                    format!("search_page{shape}"),
                    search_page(pinned, tag, after),
                ));
            }
        }
    }
    for in_titles in [false, true] {
        all.push((
            format!("snippets(titles {in_titles})"),
            snippets(in_titles, 3),
        ));
    }
    all
}
