//! One answer from Ollama, stored safely. [`plan`] reads what the answer is built from;
//! [`Stored`] (`stored.rs`) stores the question and a placeholder answer and registers the
//! generation (the per-user concurrency guard) in one transaction, on its own task, while
//! Ollama starts;
//! [`run`] relays Ollama's chunks as they arrive, keeps the partial answer stored as it goes,
//! honours `stop`, and stores the final answer whatever happens to Ollama or the client.
use crate::settings::Settings;
use crate::stored::Stored;
use crate::upstream::{self, Lines, Next};
use chat_core::conversation::{MessageView, ModelOptions, Role, Status, Usage};
use chat_core::ollama::{self, ChatLine, ContextMessage};
use chat_core::spin::conversations::{
    CONVERSATION_COLUMNS, ConversationRow, MESSAGE_COLUMNS, MessageRow,
};
use chat_core::spin::{Db, FromRow, Row, Value, log, task};
use chat_core::{Error, ErrorCode, time};
use futures::SinkExt;
use futures::channel::mpsc::Sender;
use serde_json::{Map, json};
use spin_sdk::http::Response;
use std::time::{Duration, Instant};

/// How often a running generation reads its stop flag.
const STOP_CHECK_EVERY: Duration = Duration::from_millis(50);
/// How often a running generation writes its partial answer and heartbeat.
const FLUSH_EVERY: Duration = Duration::from_secs(2);
/// A generation whose heartbeat is older than the Ollama timeout plus this is considered
/// dead (its instance went away) and no longer counts against its user.
const STALE_AFTER: Duration = Duration::from_secs(30);

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

struct Count(i64);

impl FromRow for Count {
    fn from_row(row: &Row<'_>) -> Result<Self, Error> {
        Ok(Self(row.int("n")?))
    }
}

pub fn stale_before(timeout: Duration) -> String {
    let secs = (timeout + STALE_AFTER).as_secs() as i64;
    time::from_now(-secs)
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

pub fn too_many(max: i64) -> Error {
    Error::new(
        ErrorCode::RateLimited,
        format!("You already have {max} answers being generated; wait for one to finish."),
    )
    .detail("max_concurrent_generations", max)
    .header(http::header::RETRY_AFTER, "1")
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
            role: Role::from_stored(&row.text("role")?),
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
    id: &str,
    timeout: Duration,
    settings: &Settings,
) -> Result<Loaded, Error> {
    let not_found = || Error::not_found("Conversation");
    if !chat_core::conversation::is_id(id) {
        return Err(not_found());
    }
    // Packed into one row by SQLite: Spin hands the guest one row per read (~25 µs each),
    // and a long conversation's history is dozens of rows before the first token.
    let rows: Vec<Part> = db
        .query_packed(
            &format!(
                "SELECT 0 AS part, {CONVERSATION_COLUMNS},
                        (SELECT COUNT(*) FROM generations
                          WHERE user_id = ?1 AND heartbeat_at > ?2) AS running,
                        NULL AS seq, NULL AS role, NULL AS content, NULL AS thinking,
                        NULL AS status, NULL AS usage
                   FROM conversations WHERE id = ?3 AND user_id = ?1
                 UNION ALL
                 SELECT * FROM (
                   SELECT 1, CASE role WHEN 'user' THEN id END, NULL, NULL,
                          CASE role WHEN 'user' THEN model END,
                          NULL, NULL, NULL, NULL, NULL, NULL,
                          CASE role WHEN 'user' THEN created_at END, NULL, NULL,
                          seq, role, content, CASE role WHEN 'user' THEN thinking END,
                          status, CASE role WHEN 'user' THEN usage END
                     FROM messages
                    WHERE conversation_id = ?3
                      AND NOT (role = 'assistant' AND (status = 'error' OR content = ''))
                      AND EXISTS (SELECT 1 FROM conversations WHERE id = ?3 AND user_id = ?1)
                    ORDER BY seq DESC LIMIT ?4)"
            ),
            &format!(
                "part, {CONVERSATION_COLUMNS}, running, seq, role, content, thinking, status, usage"
            ),
            vec![
                Value::Text(user_id.into()),
                Value::Text(stale_before(timeout)),
                Value::Text(id.into()),
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
    let asked_before = history.iter().any(|m| m.role == Role::User);
    let existing = match &question {
        Question::New(content) => {
            history.push(MessageView {
                id: String::new(),
                conversation_id: conversation.id.clone(),
                role: Role::User,
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
            let last = match history.iter().rposition(|m| m.role == Role::User) {
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
    let context = ollama::context(
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
            (Question::New(content), None) => {
                (message(Role::User, content, None, Status::Complete), true)
            }
            (Question::Last, None) => return Err(Error::internal("no question to answer")),
        };
        let assistant = message(Role::Assistant, "", Some(&self.model), Status::Incomplete);
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
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND role = 'user'
             ORDER BY seq DESC LIMIT 1"
        ),
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

/// Waits for Ollama's answer to begin; a failure of Ollama or of the store (whichever comes
/// first) is answered with a status, before any event. On an Ollama failure the question stays
/// stored and the placeholder is marked `error`.
pub async fn open(
    db: &Db,
    p: &Prepared,
    call: impl Future<Output = Result<Response, Error>>,
    stored: &mut Stored,
    timeout: Duration,
) -> Result<Lines, Error> {
    let answer = {
        let mut call = std::pin::pin!(call);
        // The request to Ollama goes out first: its answer is the longer wait.
        let early = futures::poll!(call.as_mut());
        stored.start();
        if let std::task::Poll::Ready(answer) = early {
            return opened(db, p, answer, stored, timeout).await;
        }
        // Let the store's task start (see `chat_core::spin::task`).
        task::yield_now().await;
        let failure = std::pin::pin!(stored.failure());
        match futures::future::select(call, failure).await {
            futures::future::Either::Left((answer, _)) => answer,
            // Nothing is stored: drop the Ollama call (which closes it).
            futures::future::Either::Right((e, _)) => return Err(e),
        }
    };
    opened(db, p, answer, stored, timeout).await
}

async fn opened(
    db: &Db,
    p: &Prepared,
    answer: Result<Response, Error>,
    stored: &mut Stored,
    timeout: Duration,
) -> Result<Lines, Error> {
    match answer {
        Ok(resp) => Ok(Lines::new(resp, timeout)),
        Err(e) => {
            stored.wait().await?;
            finish(db, p, "", "", Status::Error, None).await;
            Err(e)
        }
    }
}

/// How a generation ended.
pub struct Outcome {
    pub message: MessageView,
    /// Ollama failed or stalled mid-way (the partial answer is stored `incomplete`).
    pub error: Option<Error>,
    pub stopped: bool,
}

/// Where events go: the client's SSE stream, or nowhere (`stream: false`).
///
/// Events are queued and written together when the producer is about to wait, so there are
/// as few small writes as possible: Spin's listener leaves Nagle's algorithm on, and a small
/// write that follows an unacknowledged one waits for the client's delayed ACK (up to 40 ms).
/// The first write (`start` with the first token) is made before the handler returns, so it
/// leaves together with the response head. See docs/STREAMING.md.
pub struct Sink {
    tx: Option<Sender<String>>,
    /// The client went away; generation goes on and is stored.
    gone: bool,
    pending: String,
    first_write: Option<futures::channel::oneshot::Sender<Result<(), Error>>>,
}

impl Sink {
    /// Events to `tx`.
    pub fn stream(tx: Sender<String>) -> Self {
        Self {
            tx: Some(tx),
            gone: false,
            pending: String::new(),
            first_write: None,
        }
    }

    /// `Ok(())` goes to `first_write` once the first write is queued.
    pub fn on_first_write(
        mut self,
        first_write: futures::channel::oneshot::Sender<Result<(), Error>>,
    ) -> Self {
        self.first_write = Some(first_write);
        self
    }

    pub fn none() -> Self {
        Self {
            tx: None,
            gone: false,
            pending: String::new(),
            first_write: None,
        }
    }

    /// Adds an event to the next write.
    pub fn queue(&mut self, name: &str, data: &impl serde::Serialize) {
        if self.tx.is_some() && !self.gone {
            self.pending.push_str(&ollama::sse_event(name, data));
        }
    }

    /// Writes what is queued.
    pub async fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.pending);
        if let Some(tx) = &mut self.tx
            && tx.send(events).await.is_err()
        {
            self.gone = true;
        }
        if let Some(first) = self.first_write.take() {
            let _ = first.send(Ok(()));
        }
    }

    pub async fn emit(&mut self, name: &str, data: &impl serde::Serialize) {
        self.queue(name, data);
        self.flush().await;
    }

    /// Ends the stream (the client sees the response end).
    pub fn close(&mut self) {
        self.tx = None;
    }
}

/// The `200 text/event-stream` response around a stream body.
pub fn sse_response(body: axum::body::Body) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let mut response = axum::response::Response::new(body);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    // Proxies (nginx and friends) must pass events through as they come.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// How long `start` waits for the first chunk to share its write; after that it goes alone.
const FIRST_CHUNK_JOINS_START: Duration = Duration::from_millis(250);

pub async fn run(
    db: &Db,
    p: &Prepared,
    mut lines: Lines,
    sink: &mut Sink,
    stored: &mut Stored,
) -> Outcome {
    let started = Instant::now();
    let mut content = String::new();
    let mut thinking = String::new();
    let mut usage: Option<Usage> = None;
    let mut error: Option<Error> = None;
    let mut stopped = false;
    // Set when the question could not be stored: nothing of this answer may be written.
    let mut unstored = false;
    let mut chunks = 0u64;
    let mut first_token: Option<Duration> = None;
    let mut stop_check = Duration::ZERO;
    let mut last_flush = Instant::now();
    let mut last_stop_check = Instant::now();
    let mut stop_checks = 0u64;
    sink.queue(
        "start",
        &json!({"user_message": p.user_message, "assistant_message_id": p.assistant.id}),
    );
    let mut first = upstream::within(FIRST_CHUNK_JOINS_START, lines.next()).await;
    if first.is_none() {
        // The model is slow to start (e.g. loading): tell the client now.
        sink.flush().await;
    }
    loop {
        let next = match first.take() {
            Some(n) => n,
            None => lines.next().await,
        };
        match next {
            Next::Line(line) => match ollama::parse_chat_line(&line) {
                Ok(ChatLine::Chunk(c)) => {
                    chunks += 1;
                    if !c.thinking().is_empty() {
                        thinking.push_str(c.thinking());
                        sink.queue("thinking", &json!({"content": c.thinking()}));
                    }
                    if !c.content().is_empty() {
                        first_token.get_or_insert(started.elapsed());
                        content.push_str(c.content());
                        sink.queue("delta", &json!({"content": c.content()}));
                    }
                    if c.done {
                        usage = c.usage();
                        break;
                    }
                }
                Ok(ChatLine::Error(e)) => {
                    error = Some(upstream::upstream(format!("error line: {e}")));
                    break;
                }
                Err(e) => {
                    error = Some(upstream::upstream(format!("unreadable line: {e}")));
                    break;
                }
            },
            Next::End => {
                error = Some(upstream::upstream("stream ended before its final chunk"));
                break;
            }
            Next::Stalled => {
                error = Some(upstream::timeout().with_cause("Ollama stalled mid-answer"));
                break;
            }
            Next::Failed(e) => {
                error = Some(upstream::upstream(format!("reading stream: {e}")));
                break;
            }
        }
        if !lines.has_buffered() {
            sink.flush().await;
        }
        // Tokens keep flowing while the question is being stored; the stop flag and the
        // partial answer wait for it (there is nothing to stop or update before).
        let is_stored = match stored.check() {
            Ok(s) => s,
            Err(e) => {
                error = Some(e);
                unstored = true;
                break;
            }
        };
        // The stop flag is read at most every STOP_CHECK_EVERY, not per chunk: a read costs
        // a few hundred µs under load, and a stop within 50 ms is "at once" for a person.
        if is_stored && last_stop_check.elapsed() >= STOP_CHECK_EVERY {
            let t = Instant::now();
            last_stop_check = t;
            let stop = stop_requested(db, &p.assistant.id).await;
            stop_check += t.elapsed();
            stop_checks += 1;
            if stop {
                stopped = true;
                break;
            }
        }
        if is_stored && last_flush.elapsed() >= FLUSH_EVERY {
            last_flush = Instant::now();
            flush(db, p, &content, &thinking).await;
        }
    }
    // Dropping the stream closes the Ollama request (a stop or failure ends it there too).
    drop(lines);
    if !unstored && let Err(e) = stored.wait().await {
        // The failure to store outranks Ollama's: the client must know nothing was kept.
        error = Some(e);
        unstored = true;
    }
    let status = if error.is_none() && !stopped {
        Status::Complete
    } else {
        Status::Incomplete
    };
    let message = if unstored {
        MessageView {
            content,
            thinking: (!thinking.is_empty()).then_some(thinking),
            status,
            ..p.assistant.clone()
        }
    } else {
        finish(db, p, &content, &thinking, status, usage.as_ref()).await
    };
    let mut f = Map::new();
    f.insert("event".into(), "generation".into());
    f.insert("conversation_id".into(), p.conversation.id.clone().into());
    f.insert("message_id".into(), p.assistant.id.clone().into());
    f.insert("model".into(), p.model.clone().into());
    f.insert("status".into(), status.as_str().into());
    f.insert("stored".into(), (!unstored).into());
    f.insert("chunks".into(), chunks.into());
    f.insert("client_gone".into(), sink.gone.into());
    f.insert("stopped".into(), stopped.into());
    f.insert(
        "first_token_ms".into(),
        first_token.map(|d| d.as_secs_f64() * 1000.0).into(),
    );
    f.insert("stop_checks".into(), stop_checks.into());
    f.insert(
        "stop_check_us".into(),
        (stop_check.as_secs_f64() * 1e6 / stop_checks.max(1) as f64).into(),
    );
    f.insert(
        "duration_ms".into(),
        (started.elapsed().as_secs_f64() * 1000.0).into(),
    );
    if let Some(e) = &error {
        f.insert(
            "error".into(),
            e.internal_cause().unwrap_or_default().into(),
        );
    }
    log::line(chat_core::config::LogLevel::Info, f);
    Outcome {
        message,
        error,
        stopped,
    }
}

async fn stop_requested(db: &Db, id: &str) -> bool {
    db.query_opt::<Count>(
        "SELECT stop_requested AS n FROM generations WHERE id = ?",
        vec![Value::Text(id.into())],
    )
    .await
    .ok()
    .flatten()
    .is_some_and(|c| c.0 != 0)
}

/// Keeps the partial answer stored and the generation's heartbeat fresh. Best effort: a
/// failed flush only means less is stored if the instance dies before the end.
async fn flush(db: &Db, p: &Prepared, content: &str, thinking: &str) {
    let _ = db
        .execute(
            "UPDATE messages SET content = ?, thinking = ? WHERE id = ?",
            vec![
                Value::Text(content.into()),
                opt(thinking),
                Value::Text(p.assistant.id.clone()),
            ],
        )
        .await;
    let _ = db
        .execute(
            "UPDATE generations SET heartbeat_at = ? WHERE id = ?",
            vec![
                Value::Text(time::now_rfc3339()),
                Value::Text(p.assistant.id.clone()),
            ],
        )
        .await;
}

fn opt(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::Text(s.into())
    }
}

/// Stores the answer as it ended and ends the generation. Retried once: losing the final
/// write would lose the answer.
async fn finish(
    db: &Db,
    p: &Prepared,
    content: &str,
    thinking: &str,
    status: Status,
    usage: Option<&Usage>,
) -> MessageView {
    let usage_json = usage.and_then(|u| serde_json::to_string(u).ok());
    for attempt in 0..2 {
        let result = db
            .transaction(async |db| {
                db.execute(
                    "UPDATE messages SET content = ?, thinking = ?, status = ?, usage = ?
                      WHERE id = ?",
                    vec![
                        Value::Text(content.into()),
                        opt(thinking),
                        Value::Text(status.as_str().into()),
                        usage_json.clone().map_or(Value::Null, Value::Text),
                        Value::Text(p.assistant.id.clone()),
                    ],
                )
                .await?;
                db.execute(
                    "UPDATE conversations SET updated_at = max(updated_at, ?) WHERE id = ?",
                    vec![
                        Value::Text(time::now_rfc3339()),
                        Value::Text(p.conversation.id.clone()),
                    ],
                )
                .await?;
                db.execute(
                    "DELETE FROM generations WHERE id = ?",
                    vec![Value::Text(p.assistant.id.clone())],
                )
                .await
            })
            .await;
        match result {
            Ok(_) => break,
            Err(e) => {
                let mut f = Map::new();
                f.insert("event".into(), "store_answer_failed".into());
                f.insert("attempt".into(), attempt.into());
                f.insert(
                    "cause".into(),
                    e.internal_cause().unwrap_or_default().into(),
                );
                log::line(chat_core::config::LogLevel::Error, f);
            }
        }
    }
    MessageView {
        content: content.into(),
        thinking: (!thinking.is_empty()).then(|| thinking.to_string()),
        status,
        usage: usage.cloned(),
        ..p.assistant.clone()
    }
}

/// Gives an untitled conversation a title after its first exchange: the model's short
/// suggestion, else the question's first words. Never delays the answer: it runs after it.
pub async fn title(db: &Db, p: &Prepared, answer: &str, base: &str, timeout: Duration) {
    let question = p.user_message.content.as_str();
    let body = json!({
        "model": p.model,
        "messages": [{"role": "user", "content": ollama::title_prompt(question, answer)}],
        "stream": false,
        "think": false,
        "options": {"temperature": 0.2, "num_predict": 24},
    });
    let limit = timeout.min(Duration::from_secs(20));
    let suggested = match upstream::send(
        base,
        http::Method::POST,
        "/api/chat",
        Some(&body),
        limit,
        None,
    )
    .await
    {
        Ok(resp) => upstream::json(resp, limit).await.ok().and_then(|v| {
            v["message"]["content"]
                .as_str()
                .and_then(ollama::clean_title)
        }),
        Err(_) => None,
    };
    if let Some(t) = suggested.or_else(|| ollama::fallback_title(question)) {
        let _ = db
            .execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND title IS NULL",
                vec![
                    Value::Text(t.as_str().into()),
                    Value::Text(p.conversation.id.clone()),
                ],
            )
            .await;
    }
}
