//! One answer from Ollama, stored safely. [`prepare`] stores the question and a placeholder
//! answer and registers the generation (the per-user concurrency guard) in one transaction;
//! [`run`] relays Ollama's chunks as they arrive, keeps the partial answer stored as it goes,
//! honours `stop`, and stores the final answer whatever happens to Ollama or the client.

use crate::settings::Settings;
use crate::upstream::{self, Lines, Next};
use chat_core::conversation::{MessageView, ModelOptions, Role, Status, Usage};
use chat_core::ollama::{self, ChatLine, ContextMessage};
use chat_core::spin::conversations::{
    CONVERSATION_COLUMNS, ConversationRow, MESSAGE_COLUMNS, MessageRow, NewMessage, insert_message,
};
use chat_core::spin::{Db, FromRow, Row, Value, log};
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

/// A generation ready to run.
pub struct Prepared {
    pub conversation: ConversationRow,
    pub user_message: MessageView,
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

fn too_many(max: i64) -> Error {
    Error::new(
        ErrorCode::RateLimited,
        format!("You already have {max} answers being generated; wait for one to finish."),
    )
    .detail("max_concurrent_generations", max)
    .header(http::header::RETRY_AFTER, "1")
}

/// The caller's conversation (`404` otherwise) and how many answers the caller has running,
/// in one query: every round trip before the Ollama call adds to the first token's time.
pub async fn conversation_and_running(
    db: &Db,
    user_id: &str,
    id: &str,
    timeout: Duration,
) -> Result<(ConversationRow, i64), Error> {
    struct Found(ConversationRow, i64);
    impl FromRow for Found {
        fn from_row(row: &Row<'_>) -> Result<Self, Error> {
            Ok(Self(ConversationRow::from_row(row)?, row.int("running")?))
        }
    }
    let not_found = || Error::not_found("Conversation");
    if !chat_core::conversation::is_id(id) {
        return Err(not_found());
    }
    let found: Option<Found> = db
        .query_opt(
            &format!(
                "SELECT {CONVERSATION_COLUMNS},
                        (SELECT COUNT(*) FROM generations
                          WHERE user_id = ?1 AND heartbeat_at > ?2) AS running
                   FROM conversations WHERE id = ?3 AND user_id = ?1"
            ),
            vec![
                Value::Text(user_id.into()),
                Value::Text(stale_before(timeout)),
                Value::Text(id.into()),
            ],
        )
        .await?;
    found.map(|f| (f.0, f.1)).ok_or_else(not_found)
}

pub async fn plan<'a>(
    db: &Db,
    conversation: ConversationRow,
    running: i64,
    question: Question<'a>,
    choice: Choice,
    settings: &Settings,
) -> Result<Plan<'a>, Error> {
    let max = settings.max_concurrent_generations;
    if running >= max {
        return Err(too_many(max));
    }
    // The newest messages, oldest first.
    let mut history: Vec<MessageView> = db
        .query::<MessageRow>(
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages
                  WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?"
            ),
            vec![
                Value::Text(conversation.id.clone()),
                Value::Integer(settings.history_max_messages as i64 * 2 + 10),
            ],
        )
        .await?
        .into_iter()
        .map(|r| r.view)
        .collect();
    history.reverse();
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

/// Stores the question (unless it is an existing one) and the placeholder answer, and
/// registers the generation, in one write transaction that re-checks the per-user limit.
pub async fn store(
    db: &Db,
    user_id: &str,
    plan: Plan<'_>,
    settings: &Settings,
    timeout: Duration,
) -> Result<Prepared, Error> {
    let cid = plan.conversation.id.clone();
    let model = plan.model.clone();
    let assistant_id = chat_core::ids::new_id();
    let (user_message, assistant) = db
        .transaction(async |db| {
            // Register the generation, if the caller is under the limit: one statement that
            // counts and inserts (the transaction keeps the count true until commit).
            let max = settings.max_concurrent_generations;
            let now = time::now_rfc3339();
            let registered = db
                .execute(
                    "INSERT INTO generations (id, user_id, conversation_id, started_at, heartbeat_at)
                     SELECT ?1, ?2, ?3, ?4, ?4
                      WHERE (SELECT COUNT(*) FROM generations
                              WHERE user_id = ?2 AND heartbeat_at > ?5) < ?6",
                    vec![
                        Value::Text(assistant_id.clone()),
                        Value::Text(user_id.into()),
                        Value::Text(cid.clone()),
                        Value::Text(now),
                        Value::Text(stale_before(timeout)),
                        Value::Integer(max),
                    ],
                )
                .await?;
            if registered == 0 {
                return Err(too_many(max));
            }
            let user_message = match (&plan.question, &plan.existing) {
                (_, Some(m)) => m.clone(),
                (Question::New(content), None) => {
                    insert_message(
                        db,
                        &NewMessage {
                            conversation_id: &cid,
                            user_id,
                            role: Role::User,
                            content,
                            thinking: None,
                            model: None,
                            status: Status::Complete,
                            usage: None,
                            created_at: None,
                            id: None,
                        },
                    )
                    .await?
                }
                (Question::Last, None) => return Err(Error::internal("no question to answer")),
            };
            let assistant = insert_message(
                db,
                &NewMessage {
                    conversation_id: &cid,
                    user_id,
                    role: Role::Assistant,
                    content: "",
                    thinking: None,
                    model: Some(&model),
                    status: Status::Incomplete,
                    usage: None,
                    created_at: None,
                    id: Some(&assistant_id),
                },
            )
            .await?;
            Ok((user_message, assistant))
        })
        .await?;
    Ok(Prepared {
        conversation: plan.conversation,
        user_message,
        assistant,
        model: plan.model,
        wants_title: plan.wants_title,
    })
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
}

/// The stored generation with Ollama's answer: its lines, or (failure before any event) the
/// placeholder marked `error` and the error to answer with; the question stays stored.
pub async fn opened(
    db: &Db,
    p: &Prepared,
    answer: Result<Response, Error>,
    timeout: Duration,
) -> Result<Lines, Error> {
    match answer {
        Ok(resp) => Ok(Lines::new(resp, timeout)),
        Err(e) => {
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
    first_write: Option<futures::channel::oneshot::Sender<()>>,
}

impl Sink {
    /// Events to `tx`; `first_write` fires once the first write is queued.
    pub fn stream(tx: Sender<String>, first_write: futures::channel::oneshot::Sender<()>) -> Self {
        Self {
            tx: Some(tx),
            gone: false,
            pending: String::new(),
            first_write: Some(first_write),
        }
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
            let _ = first.send(());
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

pub async fn run(db: &Db, p: &Prepared, mut lines: Lines, sink: &mut Sink) -> Outcome {
    let started = Instant::now();
    let mut content = String::new();
    let mut thinking = String::new();
    let mut usage: Option<Usage> = None;
    let mut error: Option<Error> = None;
    let mut stopped = false;
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
        // The stop flag is read at most every STOP_CHECK_EVERY, not per chunk: a read costs
        // a few hundred µs under load, and a stop within 50 ms is "at once" for a person.
        if last_stop_check.elapsed() >= STOP_CHECK_EVERY {
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
        if last_flush.elapsed() >= FLUSH_EVERY {
            last_flush = Instant::now();
            flush(db, p, &content, &thinking).await;
        }
    }
    // Dropping the stream closes the Ollama request (a stop or failure ends it there too).
    drop(lines);
    let status = if error.is_none() && !stopped {
        Status::Complete
    } else {
        Status::Incomplete
    };
    let message = finish(db, p, &content, &thinking, status, usage.as_ref()).await;
    let mut f = Map::new();
    f.insert("event".into(), "generation".into());
    f.insert("conversation_id".into(), p.conversation.id.clone().into());
    f.insert("message_id".into(), p.assistant.id.clone().into());
    f.insert("model".into(), p.model.clone().into());
    f.insert("status".into(), status.as_str().into());
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
    log::line("info", f);
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
                log::line("error", f);
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
