//! `messages`: the questions and answers of a conversation, in the order they were stored
//! (`seq`). A message's conversation keeps its count and `updated_at` by trigger.

use crate::statements;
use std::sync::OnceLock;

/// The columns a message row is read by (`MessageRow`), in this order.
#[macro_export]
macro_rules! message_columns {
    () => {
        "seq, id, conversation_id, role, content, thinking, model, status, usage, created_at"
    };
}

/// The columns a message row is read by (`MessageRow`).
pub const COLUMNS: &str = message_columns!();

statements! {
    /// Stores message `?1` of conversation `?2` of user `?3`: role, content, thinking, model,
    /// status, usage (JSON) and time are `?4` to `?10`.
    INSERT = "INSERT INTO messages (id, conversation_id, user_id, role, content, thinking, model,
                                    status, usage, created_at)
              VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
    /// Every message of conversation `?1`, oldest first.
    ALL_OF = concat!("SELECT ", message_columns!(), " FROM messages WHERE conversation_id = ?1 ORDER BY seq");
    /// The newest question of conversation `?1`.
    LAST_QUESTION = concat!(
        "SELECT ", message_columns!(), " FROM messages WHERE conversation_id = ?1 AND role = 'user'
         ORDER BY seq DESC LIMIT 1"
    );
    /// Messages of conversation `?1` after `seq` `?2`, oldest first, at most `?3`.
    PAGE = concat!("SELECT ", message_columns!(), " FROM messages WHERE conversation_id = ?1 AND seq > ?2
                    ORDER BY seq LIMIT ?3");
    /// Every message of user `?1`, oldest first (export).
    ALL_OF_USER = concat!("SELECT ", message_columns!(), " FROM messages WHERE user_id = ?1 ORDER BY seq");
    /// The partial answer `?3` so far: content `?1`, thinking `?2`.
    SAVE_PARTIAL = "UPDATE messages SET content = ?1, thinking = ?2 WHERE id = ?3";
    /// Answer `?5` as it ended: content `?1`, thinking `?2`, status `?3`, usage `?4` (JSON).
    SAVE_FINAL = "UPDATE messages SET content = ?1, thinking = ?2, status = ?3, usage = ?4
                   WHERE id = ?5";
}

/// The columns of [`for_answer`]'s rows, in order: `part` (0: the conversation, 1: a
/// message), the conversation's columns, `running`, then a message's.
pub fn for_answer_columns() -> &'static str {
    static COLUMNS: OnceLock<String> = OnceLock::new();
    COLUMNS.get_or_init(|| {
        format!(
            "part, {}, running, seq, role, content, thinking, status, usage",
            crate::conversations::COLUMNS
        )
    })
}

/// What an answer is built from, in one statement: conversation `?3` of user `?1` with the
/// user's live answers (stale time `?2`) as `running`, and the newest `?4` messages usable as
/// context (answers that failed or are empty are left out; only a question comes whole: an
/// answer's id, model, time, thinking and usage are NULL). Messages come only if the user owns
/// the conversation. Each row has [`for_answer_columns`]; the message parts line up with the
/// conversation's by name ([`crate::aligned`]).
pub fn for_answer() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(for_answer_built)
}

fn for_answer_built() -> String {
    let columns = for_answer_columns();
    let conversation = crate::aligned_named(
        columns,
        &[
            ("part", "0"),
            ("running", &crate::generations::running_of(1, 2)),
            ("id", "id"),
            ("user_id", "user_id"),
            ("title", "title"),
            ("model", "model"),
            ("system_prompt", "system_prompt"),
            ("options", "options"),
            ("pinned", "pinned"),
            ("archived", "archived"),
            ("tags", "tags"),
            ("message_count", "message_count"),
            ("created_at", "created_at"),
            ("updated_at", "updated_at"),
        ],
    );
    let question_only = |c: &str| format!("CASE role WHEN 'user' THEN {c} END");
    let (id, model, created_at, thinking, usage) = (
        question_only("id"),
        question_only("model"),
        question_only("created_at"),
        question_only("thinking"),
        question_only("usage"),
    );
    let message = crate::aligned(
        columns,
        &[
            ("part", "1"),
            ("id", &id),
            ("model", &model),
            ("created_at", &created_at),
            ("seq", "seq"),
            ("role", "role"),
            ("content", "content"),
            ("thinking", &thinking),
            ("status", "status"),
            ("usage", &usage),
        ],
    );
    format!(
        "SELECT {conversation} FROM conversations WHERE id = ?3 AND user_id = ?1
         UNION ALL
         SELECT * FROM (
           SELECT {message}
             FROM messages
            WHERE conversation_id = ?3
              AND NOT (role = 'assistant' AND (status = 'error' OR content = ''))
              AND EXISTS (SELECT 1 FROM conversations WHERE id = ?3 AND user_id = ?1)
            ORDER BY seq DESC LIMIT ?4)"
    )
}

/// The built statements, for the schema test.
pub fn built() -> Vec<(String, String)> {
    vec![("for_answer".into(), for_answer().to_string())]
}
