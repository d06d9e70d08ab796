//! Relaying one answer: [`race`] waits for Ollama to begin (or for the question's store to
//! fail), [`run`] passes Ollama's chunks on as they arrive, keeps the partial answer stored,
//! honours `stop`, and stores the final answer whatever happens to Ollama or the client.

use crate::finish::{finish, flush};
use crate::generations;
use crate::plan::Prepared;
use crate::sink::Sink;
use crate::stored::Stored;
use crate::upstream::{self, Lines, Next};
use chat_core::Error;
use chat_core::spin::{log, task};
use chat_core::usage::Tokens;
use chat_domain::conversation::{MessageView, Status, Usage};
use serde::Serialize;
use serde_json::json;
use std::time::{Duration, Instant};

/// How often a running generation reads its stop flag.
const STOP_CHECK_EVERY: Duration = Duration::from_millis(50);
/// How often a running generation writes its partial answer and heartbeat.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_secs(2);
/// How long `start` waits for the first chunk to share its write; after that it goes alone.
pub(crate) const FIRST_CHUNK_JOINS_START: Duration = Duration::from_millis(250);

/// Waits for `call` (Ollama's answer beginning) while the question is stored: what the call
/// gave, or the store's failure first (then the call is dropped, which closes it).
pub async fn race<T>(call: impl Future<Output = T>, stored: &mut Stored) -> Result<T, Error> {
    let mut call = std::pin::pin!(call);
    // The request to Ollama goes out first: its answer is the longer wait.
    let early = futures::poll!(call.as_mut());
    stored.start();
    if let std::task::Poll::Ready(answer) = early {
        return Ok(answer);
    }
    // Let the store's task start (see `chat_core::spin::task`).
    task::yield_now().await;
    let failure = std::pin::pin!(stored.failure());
    match futures::future::select(call, failure).await {
        futures::future::Either::Left((answer, _)) => Ok(answer),
        futures::future::Either::Right((e, _)) => Err(e),
    }
}

/// Ollama failed before its answer began: once the question is stored, its placeholder is
/// marked `error` (the question stays); `e` is the answer.
pub async fn failed_to_begin(p: &Prepared, stored: &mut Stored, e: Error) -> Error {
    if let Err(store) = stored.wait().await {
        return store;
    }
    match stored.connection() {
        Ok(db) => {
            finish(db, p, "", "", Status::Error, None).await;
            e
        }
        Err(lost) => lost,
    }
}

/// How a generation ended.
pub struct Outcome {
    pub message: MessageView,
    /// What it cost: Ollama's counts, or one completion token per content chunk received
    /// when Ollama sent none (a stopped, failed or abandoned answer).
    pub tokens: Tokens,
    /// The question was stored; `false`: refused when storing (over a limit after all), so the
    /// answer was not the caller's to keep and is not counted in usage.
    pub stored: bool,
    /// Ollama failed or stalled mid-way (the partial answer is stored `incomplete`).
    pub error: Option<Error>,
    pub stopped: bool,
}

/// Why the relay stopped reading Ollama.
enum End {
    /// Ollama's final chunk came.
    Done,
    /// The user asked to stop.
    Stopped,
    /// Ollama failed, stalled or ended early.
    Failed(Error),
    /// The question could not be stored: nothing of this answer may be written.
    Unstored(Error),
}

/// What has come of the answer so far.
struct Received {
    started: Instant,
    content: String,
    thinking: String,
    usage: Option<Usage>,
    chunks: u64,
    content_chunks: u64,
    first_token: Option<Duration>,
}

impl Received {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            content: String::new(),
            thinking: String::new(),
            usage: None,
            chunks: 0,
            content_chunks: 0,
            first_token: None,
        }
    }

    /// Takes what Ollama sent next, queueing its events: the end of the answer, if it is one.
    fn take(&mut self, next: Next, sink: &mut Sink) -> Option<End> {
        match next.chunk() {
            Ok(c) => {
                self.chunks += 1;
                if !c.thinking().is_empty() {
                    self.thinking.push_str(c.thinking());
                    sink.queue("thinking", &json!({"content": c.thinking()}));
                }
                if !c.content().is_empty() {
                    self.content_chunks += 1;
                    self.first_token.get_or_insert(self.started.elapsed());
                    self.content.push_str(c.content());
                    sink.queue("delta", &json!({"content": c.content()}));
                }
                if c.done {
                    self.usage = c.counts().map(|n| {
                        Usage::from_ollama(
                            n.prompt_eval_count,
                            n.eval_count,
                            n.total_duration,
                            n.load_duration,
                            n.eval_duration,
                        )
                    });
                    return Some(End::Done);
                }
                None
            }
            Err(e) => Some(End::Failed(e)),
        }
    }
}

impl Received {
    fn tokens(&self) -> Tokens {
        match &self.usage {
            Some(u) => Tokens {
                prompt: u.prompt_tokens,
                completion: u.completion_tokens,
            },
            None => Tokens {
                prompt: 0,
                completion: self.content_chunks,
            },
        }
    }
}

/// The store's chores between chunks, each at its own pace: reading the stop flag and
/// writing the partial answer.
struct Chores {
    last_flush: Instant,
    last_stop_check: Instant,
    stop_checks: u64,
    stop_check_time: Duration,
}

impl Chores {
    fn new() -> Self {
        Self {
            last_flush: Instant::now(),
            last_stop_check: Instant::now(),
            stop_checks: 0,
            stop_check_time: Duration::ZERO,
        }
    }

    /// Does what is due: the end of the answer, if the user stopped it or its question could
    /// not be stored.
    async fn between_chunks(
        &mut self,
        p: &Prepared,
        got: &Received,
        stored: &mut Stored,
    ) -> Option<End> {
        // Tokens keep flowing while the question is being stored; the stop flag and the
        // partial answer wait for it (there is nothing to stop or update before), and so
        // does the connection, which the store has until then.
        match stored.check() {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => return Some(End::Unstored(e)),
        }
        let db = match stored.connection() {
            Ok(db) => db,
            Err(e) => return Some(End::Unstored(e)),
        };
        // The stop flag is read at most every STOP_CHECK_EVERY, not per chunk: a read costs
        // a few hundred µs under load, and a stop within 50 ms is "at once" for a person.
        if self.last_stop_check.elapsed() >= STOP_CHECK_EVERY {
            let t = Instant::now();
            self.last_stop_check = t;
            let stop = generations::stop_requested(db, &p.assistant.id).await;
            self.stop_check_time += t.elapsed();
            self.stop_checks += 1;
            if stop {
                return Some(End::Stopped);
            }
        }
        if self.last_flush.elapsed() >= FLUSH_EVERY {
            self.last_flush = Instant::now();
            flush(db, p, &got.content, &got.thinking).await;
        }
        None
    }
}

/// Passes Ollama's lines on (as `start`, then `thinking` and `delta` events) until the answer
/// ends, doing the store's chores between chunks.
async fn relay_lines(
    p: &Prepared,
    lines: &mut Lines,
    sink: &mut Sink,
    stored: &mut Stored,
    got: &mut Received,
    chores: &mut Chores,
) -> End {
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
        if let Some(end) = got.take(next, sink) {
            return end;
        }
        if !lines.has_buffered() {
            sink.flush().await;
        }
        if let Some(end) = chores.between_chunks(p, got, stored).await {
            return end;
        }
    }
}

/// Relays the answer and stores how it ended.
pub async fn run(p: &Prepared, mut lines: Lines, sink: &mut Sink, stored: &mut Stored) -> Outcome {
    let mut got = Received::new();
    let mut chores = Chores::new();
    let end = relay_lines(p, &mut lines, sink, stored, &mut got, &mut chores).await;
    // Dropping the stream closes the Ollama request (a stop or failure ends it there too).
    drop(lines);
    // The failure to store outranks Ollama's: the client must know nothing was kept. Once
    // stored, the connection is back from the store.
    let stored_on = match &end {
        End::Unstored(_) => None,
        _ => Some(stored.wait().await.and_then(|_| stored.connection())),
    };
    let (end, db) = match stored_on {
        Some(Ok(db)) => (end, Some(db)),
        Some(Err(e)) => (End::Unstored(e), None),
        None => (end, None),
    };
    let status = match end {
        End::Done => Status::Complete,
        _ => Status::Incomplete,
    };
    let message = match db {
        None => MessageView {
            content: got.content.clone(),
            thinking: (!got.thinking.is_empty()).then(|| got.thinking.clone()),
            status,
            ..p.assistant.clone()
        },
        Some(db) => {
            finish(
                db,
                p,
                &got.content,
                &got.thinking,
                status,
                got.usage.as_ref(),
            )
            .await
        }
    };
    let unstored = matches!(end, End::Unstored(_));
    let (error, stopped) = match end {
        End::Done => (None, false),
        End::Stopped => (None, true),
        End::Failed(e) | End::Unstored(e) => (Some(e), false),
    };
    log::record(
        chat_core::config::LogLevel::Info,
        &GenerationLog {
            event: "generation",
            conversation_id: &p.conversation.id,
            message_id: &p.assistant.id,
            model: &p.model,
            status: status.as_str(),
            stored: !unstored,
            chunks: got.chunks,
            client_gone: sink.is_gone(),
            stopped,
            first_token_ms: got.first_token.map(|d| d.as_secs_f64() * 1000.0),
            stop_checks: chores.stop_checks,
            stop_check_us: chores.stop_check_time.as_secs_f64() * 1e6
                / chores.stop_checks.max(1) as f64,
            duration_ms: got.started.elapsed().as_secs_f64() * 1000.0,
            error: error.as_ref().and_then(Error::internal_cause),
        },
    );
    Outcome {
        message,
        tokens: got.tokens(),
        stored: !unstored,
        error,
        stopped,
    }
}

/// The log line of one generation.
#[derive(Serialize)]
struct GenerationLog<'a> {
    event: &'static str,
    conversation_id: &'a str,
    message_id: &'a str,
    model: &'a str,
    status: &'static str,
    /// The answer was written (its question was stored).
    stored: bool,
    chunks: u64,
    client_gone: bool,
    stopped: bool,
    first_token_ms: Option<f64>,
    stop_checks: u64,
    /// The mean time of one stop-flag read.
    stop_check_us: f64,
    duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}
