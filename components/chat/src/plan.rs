//! What an answer is built from, read before anything is written: [`load`] reads the
//! conversation, the caller's running answers and the history in one statement; [`plan`]
//! checks the per-user limit and builds Ollama's context; [`Plan::prepare`] names the
//! messages to store.

use crate::context::ContextMessage;
use crate::generations::{stale_before, too_many};
use crate::settings::Settings;
use chat_core::ids::ConversationId;
use chat_core::spin::{Db, FromRow, Row, Value};
use chat_core::{Error, ErrorCode, time};
use chat_domain::conversation::{MessageRole, MessageView, ModelOptions, Status, Usage};
use chat_domain::rows::{ConversationRow, MessageRow};
use serde_json::json;
use std::time::Duration;

/// What is being answered.
pub enum Question<'a> {
    /// A new user message.
    New(&'a str),
    /// The conversation's last user message again (regenerate).
    Last,
}

/// The model and options to answer with.
pub struct Choice {
    pub model: String,
    pub options: Option<ModelOptions>,
}

/// A generation ready to run: the messages as they will be stored (ids and times are made
/// here, so `start` can name them before the store commits).
pub struct Prepared {
    pub conversation: ConversationRow,
    pub user_message: MessageView,
    /// The question is new (stored with the answer), not one asked before (regenerate).
    pub new_question: bool,
    pub assistant: MessageView,
    pub model: String,
    /// The conversation's first exchange, without a title yet: it gets one.
    pub wants_title: bool,
}

/// What an answer will be built from, read before anything is written: the history, the
/// context for Ollama, whether the conversation wants a title. Also checks the per-user limit
/// early, so a refused request never reaches Ollama (it is checked again when storing).
pub struct Plan<'a> {
    conversation: ConversationRow,
    question: Question<'a>,
    /// For regenerate: the question being answered again.
    existing: Option<MessageView>,
    pub model: String,
    pub options: Option<ModelOptions>,
    pub context: Vec<ContextMessage>,
    wants_title: bool,
}

/// What an answer is built from, read before anything is written.
pub struct Loaded {
    pub conversation: ConversationRow,
    /// Answers the caller has running now.
    pub running: i64,
    /// The conversation's newest messages, oldest first.
    pub history: Vec<MessageView>,
}

/// One row of [`load`]'s statement: the conversation (`part` 0) or one of its messages.
enum Part {
    Conversation(ConversationRow, i64),
    Message(i64, MessageView),
}

impl FromRow for Part {
    fn from_row(row: &Row<'_>) -> Result<Self, Error> {
        if row.int("part")? == 0 {
            return Ok(Self::Conversation(
                ConversationRow::from_row(row)?,
                row.int("running")?,
            ));
        }
        // Only a user message comes whole (regenerate may answer it again); an answer is
        // context, so only its role, content and status come.
        let view = MessageView {
            id: row.opt_text("id")?.unwrap_or_default(),
            // The caller's conversation: `load` sets it.
            conversation_id: String::new(),
            role: MessageRole::from_stored(&row.text("role")?),
            content: row.text("content")?,
            thinking: row.opt_text("thinking")?,
            model: row.opt_text("model")?,
            status: Status::from_stored(&row.text("status")?),
            created_at: row.opt_text("created_at")?.unwrap_or_default(),
            usage: row
                .opt_text("usage")?
                .and_then(|u| serde_json::from_str::<Usage>(&u).ok()),
        };
        Ok(Self::Message(row.int("seq")?, view))
    }
}

/// The caller's conversation (`404` otherwise), how many answers the caller has running, and
/// the newest messages usable as context, in one statement: every round trip before the
/// Ollama call adds to the first token's time. The two parts share one set of columns (`id`,
/// `model` and `created_at` are the conversation's in its row and a message's in the others;
/// the rest is NULL where it does not apply), and messages come only if the caller owns the
/// conversation. Failed and empty answers are left out (they are not context), only user
/// messages come whole, and the rows are put in order here rather than by SQLite: each of
/// these trimmed the statement's time, which grows with the conversation.
pub async fn load(
    db: &Db,
    user_id: &str,
    id: &ConversationId,
    timeout: Duration,
    settings: &Settings,
) -> Result<Loaded, Error> {
    let not_found = || Error::not_found("Conversation");
    // Packed into one row by SQLite: Spin hands the guest one row per read (~25 µs each),
    // and a long conversation's history is dozens of rows before the first token.
    let rows: Vec<Part> = db
        .query_packed(
            chat_store::messages::for_answer(),
            chat_store::messages::for_answer_columns(),
            vec![
                Value::Text(user_id.into()),
                Value::Text(stale_before(timeout)),
                Value::Text(id.to_string()),
                // The newest `history_max_messages`, and room for the answers a regenerated
                // question already has after it.
                Value::Integer(settings.history_max_messages as i64 + 10),
            ],
        )
        .await?;
    let mut conversation = None;
    let mut messages = Vec::with_capacity(rows.len());
    for part in rows {
        match part {
            Part::Conversation(c, running) => conversation = Some((c, running)),
            Part::Message(seq, m) => messages.push((seq, m)),
        }
    }
    let Some((conversation, running)) = conversation else {
        return Err(not_found());
    };
    messages.sort_unstable_by_key(|(seq, _)| *seq);
    let history = messages
        .into_iter()
        .map(|(_, m)| MessageView {
            conversation_id: conversation.id.clone(),
            ..m
        })
        .collect();
    Ok(Loaded {
        conversation,
        running,
        history,
    })
}

pub async fn plan<'a>(
    db: &Db,
    loaded: Loaded,
    question: Question<'a>,
    choice: Choice,
    settings: &Settings,
) -> Result<Plan<'a>, Error> {
    let Loaded {
        conversation,
        running,
        mut history,
    } = loaded;
    let max = settings.max_concurrent_generations;
    if running >= max {
        return Err(too_many(max));
    }
    let asked_before = history.iter().any(|m| m.role == MessageRole::User);
    let existing = match &question {
        Question::New(content) => {
            history.push(MessageView {
                id: String::new(),
                conversation_id: conversation.id.clone(),
                role: MessageRole::User,
                content: content.to_string(),
                thinking: None,
                model: None,
                status: Status::Complete,
                created_at: String::new(),
                usage: None,
            });
            None
        }
        Question::Last => {
            let last = match history.iter().rposition(|m| m.role == MessageRole::User) {
                Some(i) => {
                    history.truncate(i + 1);
                    history[i].clone()
                }
                None => {
                    // Not among the newest: look further back (or there is none: 409).
                    let m = last_user_message(db, &conversation.id).await?.view;
                    history = vec![m.clone()];
                    m
                }
            };
            Some(last)
        }
    };
    let wants_title =
        conversation.title.is_none() && !asked_before && matches!(question, Question::New(_));
    let context = crate::context::context(
        conversation.system_prompt.as_deref(),
        &history,
        settings.history_max_messages,
        settings.history_max_chars,
    );
    Ok(Plan {
        conversation,
        question,
        existing,
        model: choice.model,
        options: choice.options,
        context,
        wants_title,
    })
}

impl Plan<'_> {
    /// The body of the `/api/chat` call.
    pub fn ollama_body(&self) -> serde_json::Value {
        let mut body = json!({
            "model": self.model,
            "messages": self.context,
            "stream": true,
        });
        if let Some(o) = &self.options {
            body["options"] = serde_json::Value::Object(o.as_map().clone());
        }
        body
    }

    /// The messages to store, with their ids and times.
    pub fn prepare(self) -> Result<Prepared, Error> {
        let now = time::now_rfc3339();
        let message = |role, content: &str, model: Option<&str>, status| MessageView {
            id: chat_core::ids::new_id(),
            conversation_id: self.conversation.id.clone(),
            role,
            content: content.into(),
            thinking: None,
            model: model.map(str::to_string),
            status,
            created_at: now.clone(),
            usage: None,
        };
        let (user_message, new_question) = match (&self.question, &self.existing) {
            (_, Some(m)) => (m.clone(), false),
            (Question::New(content), None) => (
                message(MessageRole::User, content, None, Status::Complete),
                true,
            ),
            (Question::Last, None) => return Err(Error::internal("no question to answer")),
        };
        let assistant = message(
            MessageRole::Assistant,
            "",
            Some(&self.model),
            Status::Incomplete,
        );
        Ok(Prepared {
            conversation: self.conversation,
            user_message,
            new_question,
            assistant,
            model: self.model,
            wants_title: self.wants_title,
        })
    }
}

async fn last_user_message(db: &Db, cid: &str) -> Result<MessageRow, Error> {
    db.query_opt(
        chat_store::messages::LAST_QUESTION,
        vec![Value::Text(cid.into())],
    )
    .await?
    .ok_or_else(|| {
        Error::new(
            ErrorCode::Conflict,
            "This conversation has no user message to answer yet.",
        )
    })
}
