//! What sending a message and regenerating share: pick the model and options, plan the
//! generation, store it while Ollama starts, then answer as server-sent events or as one JSON
//! object.

use crate::plan::{self, Question};
use crate::relay::{self, Outcome};
use crate::servers;
use crate::settings::settings;
use crate::sink::{self, Sink};
use crate::stored::Stored;
use crate::upstream::{self, Lines};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chat_core::Error;
use chat_core::auth::principal::Principal;
use chat_core::config::Config;
use chat_core::ids::ConversationId;
use chat_core::spin::{ApiJson, Db, RequestContext, log, metrics, ratelimit, task, usage};
use chat_core::usage::Tokens;
use chat_domain::conversation::{MessageView, ModelName, ModelOptions};
use serde::Serialize;
use std::sync::Arc;
use std::sync::Mutex;

/// The request's choices.
pub struct Ask<'a> {
    question: Question<'a>,
    model: Option<ModelName>,
    options: Option<ModelOptions>,
    stream: bool,
}

impl<'a> Ask<'a> {
    /// The body's choices, parsed (`422` for a bad model name or options); streamed unless
    /// `stream` is `false`.
    pub fn parse(
        question: Question<'a>,
        model: Option<String>,
        options: Option<serde_json::Value>,
        stream: Option<bool>,
    ) -> Result<Self, Error> {
        Ok(Self {
            question,
            model: model.as_deref().map(ModelName::parse).transpose()?,
            options: options.map(ModelOptions::parse).transpose()?.flatten(),
            stream: stream.unwrap_or(true),
        })
    }
}

pub async fn respond(
    ctx: &RequestContext,
    caller: &Principal,
    conversation_id: &ConversationId,
    ask: Ask<'_>,
) -> Result<Response, Error> {
    let user_id = caller.user_id.as_str();
    let settings = settings().await?;
    let db = Db::open().await?;
    let timeout = ctx.config.ollama_timeout;
    // The rate limit (left to this handler by the pipeline) and the quotas are checked with
    // one read that goes to SQLite together with the conversation's, on this connection:
    // nothing waits for a write before Ollama is asked. The request is counted when its
    // question is stored.
    // (plan::load counts the running answers itself, beside the history.)
    let count = async {
        usage::admit(&db, ctx.rate_limit.as_ref(), caller, ctx.config.quota, None)
            .await
            .map(|a| a.quota)
    };
    let (quota, loaded) = futures::join!(
        count,
        plan::load(&db, user_id, conversation_id, timeout, &settings)
    );
    let quota = quota?;
    let answered = match loaded {
        Ok(loaded) => answer(ctx, caller, db, loaded, ask, settings).await,
        Err(e) => Err(e),
    };
    Ok(ratelimit::stamp(quota, answered))
}

/// Plans the answer to `loaded` and gives it, streamed or whole.
async fn answer(
    ctx: &RequestContext,
    caller: &Principal,
    db: Db,
    loaded: plan::Loaded,
    ask: Ask<'_>,
    settings: Arc<crate::settings::Settings>,
) -> Result<Response, Error> {
    let config = &ctx.config;
    let conversation = &loaded.conversation;
    let model = ask
        .model
        .map(|m| m.as_str().to_string())
        .or_else(|| conversation.model.clone())
        .unwrap_or_else(|| config.default_model.clone());
    let options = ModelOptions::merged(conversation.options.as_ref(), ask.options.as_ref());
    let choice = plan::Choice { model, options };
    let plan = plan::plan(&db, loaded, ask.question, choice, &settings).await?;
    // With several servers: those that may answer the model, best first (one read).
    let order = servers::order(&db, config, &plan.model).await?;
    let body = plan.ollama_body();
    let prepared = Arc::new(plan.prepare()?);
    // The question is stored on its own task while Ollama starts: the writes are off the path
    // to the first token, and `start` does not wait for their commit. If storing fails before
    // Ollama answers, the call is dropped (which closes it) and the failure is the answer.
    // The store takes the connection and gives it back when done (see `Stored`).
    let mut stored = Stored::new(
        db,
        caller.user_id.clone(),
        prepared.clone(),
        settings,
        config.ollama_timeout,
        ctx.rate_limit.clone(),
        servers::Candidates::new(config, &order),
    );
    let generation = Generation {
        caller: caller.clone(),
        prepared,
        server: Mutex::new(order.first().cloned().unwrap_or_default()),
        order,
        config: ctx.config.clone(),
    };
    if ask.stream {
        generation.streamed(stored, body).await
    } else {
        generation.whole(&mut stored, body).await
    }
}

#[derive(Serialize)]
struct Exchange {
    user_message: MessageView,
    assistant_message: MessageView,
}

/// One answer on its way: the messages it stores and the servers that may answer it. Its
/// connection is the store's until the store is done (`Stored::connection`).
struct Generation {
    /// Whose answer it is (and with which API key): its usage is counted for them.
    caller: Principal,
    prepared: Arc<plan::Prepared>,
    /// The servers to try, best first (one, unless there are several servers).
    order: Vec<String>,
    /// The server answering (known once Ollama has begun).
    server: Mutex<String>,
    config: Arc<Config>,
}

impl Generation {
    /// Asks Ollama, relays its answer into the sink `sink_for` makes once Ollama has begun,
    /// and counts the outcome. `Err` before any event (Ollama or the store failed first).
    async fn relay(
        &self,
        stored: &mut Stored,
        body: serde_json::Value,
        sink_for: impl FnOnce() -> Sink,
    ) -> Result<(Outcome, Sink), Error> {
        let p = &self.prepared;
        let lines = match self.begin(stored, &body).await {
            Ok(lines) => lines,
            Err(e) => {
                count(&p.model, Err(&e)).await;
                return Err(e);
            }
        };
        let mut sink = sink_for();
        let outcome = relay::run(p, lines, &mut sink, stored).await;
        if outcome.stored {
            self.count_usage(stored, outcome.tokens).await;
        }
        count(&p.model, Ok(&outcome)).await;
        Ok((outcome, sink))
    }

    /// Asks Ollama while the question is stored, until a server begins to answer. With one
    /// server the request goes out at once. With several, the store's registration picks the
    /// least busy one first (answers starting at once must see each other), and a server at
    /// fault is failed over to the next before any token: the client sees one answer. Fails
    /// with the store's failure, or Ollama's (the question stays, its answer marked `error`).
    async fn begin(&self, stored: &mut Stored, body: &serde_json::Value) -> Result<Lines, Error> {
        let p = &self.prepared;
        let (config, model) = (&self.config, p.model.as_str());
        let order = match self.order.len() {
            1 => self.order.clone(),
            _ => servers::starting_with(&self.order, &stored.picked().await?),
        };
        let post = http::Method::POST;
        for (i, url) in order.iter().enumerate() {
            let call = upstream::attempt(
                url,
                post.clone(),
                "/api/chat",
                Some(body),
                config.ollama_timeout,
                Some(model),
            );
            let failed = match relay::race(call, stored).await? {
                Ok(resp) => {
                    *self.server.lock().unwrap_or_else(|e| e.into_inner()) = url.clone();
                    return Ok(Lines::new(resp, config.ollama_timeout));
                }
                Err(f) => f,
            };
            let next = order.get(i + 1).filter(|_| servers::moves_on(&failed));
            if order.len() > 1 {
                // Written once the store is done: it has the connection until then.
                stored.wait().await?;
                let moved = next.map(|n| (p.assistant.id.as_str(), n.as_str()));
                let db = stored.connection()?;
                servers::after_failure(db, config, url, &failed, moved).await;
            }
            if next.is_none() {
                return Err(relay::failed_to_begin(p, stored, failed.error()).await);
            }
        }
        Err(upstream::unavailable("no Ollama server"))
    }

    /// Counts what an answer (or its title) cost in the caller's usage, on the connection
    /// the finished store gave back.
    async fn count_usage(&self, stored: &Stored, tokens: Tokens) {
        let model = &self.prepared.model;
        let recorded = match stored.connection() {
            Ok(db) => usage::record(db, &self.caller, model, tokens).await,
            Err(e) => Err(e),
        };
        if let Err(e) = recorded {
            log::warn("usage not recorded", e.causes());
        }
    }

    /// Titles an untitled conversation after a complete first exchange.
    async fn title(&self, stored: &Stored, outcome: &Outcome) {
        let p = &self.prepared;
        let Ok(db) = stored.connection() else {
            return;
        };
        if p.wants_title
            && !outcome.stopped
            && outcome.message.status == chat_domain::conversation::Status::Complete
        {
            let base = self
                .server
                .lock()
                .map_or_else(|e| e.into_inner().clone(), |s| s.clone());
            let timeout = self.config.ollama_timeout;
            let answer = &outcome.message.content;
            if let Some(tokens) = crate::title::title(db, p, answer, &base, timeout).await {
                self.count_usage(stored, tokens).await;
            }
        }
    }

    /// `201` with both messages once the answer is complete.
    async fn whole(self, stored: &mut Stored, body: serde_json::Value) -> Result<Response, Error> {
        let (outcome, _) = self.relay(stored, body, Sink::none).await?;
        if let Some(e) = outcome.error {
            return Err(e);
        }
        self.title(stored, &outcome).await;
        let body = Exchange {
            user_message: self.prepared.user_message.clone(),
            assistant_message: outcome.message,
        };
        Ok((StatusCode::CREATED, ApiJson(body)).into_response())
    }

    /// `200 text/event-stream` once Ollama has begun; events as the answer comes.
    async fn streamed(
        self,
        mut stored: Stored,
        body: serde_json::Value,
    ) -> Result<Response, Error> {
        let (tx, stream) = spin_sdk::http::body::stream::<String>();
        let (decided_tx, decided_rx) = futures::channel::oneshot::channel();
        // The task outlives this handler: Spin keeps the instance while it runs, also after
        // the client has gone, so the answer is finished and stored either way.
        task::spawn(async move {
            let mut decided = Some(decided_tx);
            let relayed = self
                .relay(&mut stored, body, || {
                    let sink = Sink::stream(tx);
                    match decided.take() {
                        Some(d) => sink.on_first_write(d),
                        None => sink,
                    }
                })
                .await;
            let (outcome, mut sink) = match relayed {
                Ok(r) => r,
                Err(e) => {
                    if let Some(d) = decided.take() {
                        let _ = d.send(Err(e));
                    }
                    return;
                }
            };
            match &outcome.error {
                None => {
                    let done = serde_json::json!({ "message": outcome.message });
                    sink.emit("done", &done).await
                }
                Some(e) => {
                    let data =
                        serde_json::json!({"error": {"code": e.code(), "message": e.message()}});
                    sink.emit("error", &data).await;
                }
            }
            sink.close();
            self.title(&stored, &outcome).await;
        })
        .await;
        // Answer once Ollama has answered and `start` (with the first token, if it comes
        // soon) is queued, so the response head and the first events leave in one TCP
        // segment; or with the status of a failure before any event.
        match decided_rx.await {
            Ok(Ok(())) => Ok(sink::sse_response(axum::body::Body::new(stream))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::internal(
                "the generation ended before its first event",
            )),
        }
    }
}

/// Counts an answer for `/metrics`: its outcome (`complete`, `stopped`, or the error code in
/// lower case), and the tokens Ollama reported for it.
async fn count(model: &str, result: Result<&Outcome, &Error>) {
    let outcome = match result {
        Ok(o) if o.stopped => "stopped".to_string(),
        Ok(Outcome { error: None, .. }) => "complete".to_string(),
        Ok(Outcome { error: Some(e), .. }) | Err(e) => e.code().as_str().to_ascii_lowercase(),
    };
    metrics::add(
        chat_core::metrics::CHATS,
        chat_core::metrics::labels(&[("outcome", &outcome)]),
        1.0,
    );
    // Ollama's counts, or the content chunks of an answer cut short (as usage counts them).
    if let Ok(Outcome { tokens, .. }) = result {
        let model = chat_core::metrics::labels(&[("model", model)]);
        metrics::add(
            chat_core::metrics::COMPLETION_TOKENS,
            model.clone(),
            tokens.completion as f64,
        );
        metrics::add(
            chat_core::metrics::PROMPT_TOKENS,
            model,
            tokens.prompt as f64,
        );
    }
    metrics::flush_soon().await;
}
