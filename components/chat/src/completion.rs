//! Answering `POST /v1/chat/completions`: the call is registered as one of the caller's
//! running answers (in the write that counts it against the chat rate limit) while Ollama
//! starts; then Ollama's chunks leave as OpenAI's as they come, or are gathered into one
//! completion. Nothing is stored but usage. A client that goes away ends the Ollama request,
//! and the tokens it had received are counted.

use crate::generations::{self, stale_before, too_many};
use crate::openai::chat::Translated;
use crate::openai::reply::Reply;
use crate::relay::{FIRST_CHUNK_JOINS_START, FLUSH_EVERY};
use crate::servers;
use crate::settings::settings;
use crate::sink::{self, Sink};
use crate::upstream::{self, Lines, Next};
use axum::response::{IntoResponse, Response};
use chat_core::auth::principal::Principal;
use chat_core::spin::ratelimit::{self, Pending};
use chat_core::spin::{ApiJson, Db, RequestContext, log, metrics, task, usage};
use chat_core::{Error, time};
use futures::future::{Either, select};
use std::time::{Duration, Instant};

/// Answers `t` for `caller`, with the rate-limit headers.
pub async fn respond(ctx: &RequestContext, caller: Principal, t: Translated) -> Response {
    let db = match Db::open().await {
        Ok(db) => db,
        Err(e) => return e.into_response(),
    };
    // Reads, as on the native route: a request over a limit or a quota never reaches Ollama, and
    // nothing waits for a write before Ollama is asked (the write re-checks both).
    // The running answers are counted in the same read.
    let since = stale_before(ctx.config.ollama_timeout);
    let read = usage::admit(
        &db,
        ctx.rate_limit.as_ref(),
        &caller,
        ctx.config.quota,
        Some(&since),
    );
    let (quota, answered) = match (read.await, settings().await) {
        (Ok(a), Ok(s)) if a.running >= s.max_concurrent_generations => {
            (a.quota, Err(too_many(s.max_concurrent_generations)))
        }
        (Ok(a), Ok(_)) => (a.quota, answer(ctx, caller, db, t).await),
        (Ok(a), Err(e)) => (a.quota, Err(e)),
        (Err(e), _) => (None, Err(e)),
    };
    ratelimit::stamp(quota, answered)
}

async fn answer(
    ctx: &RequestContext,
    caller: Principal,
    db: Db,
    t: Translated,
) -> Result<Response, Error> {
    let model = t.body["model"].as_str().unwrap_or_default().to_string();
    let call = Call {
        db,
        id: crate::openai::id("v1-"),
        request_id: ctx.request_id.clone(),
        caller,
        model,
        timeout: ctx.config.ollama_timeout,
    };
    let lines = call.open(ctx, &t.body).await?;
    let reply = Reply::new(&call.model, now(), t.include_usage);
    if t.stream {
        call.streamed(lines, reply).await
    } else {
        let (reply, end) = call.relay(lines, reply, &mut Sink::none()).await;
        match end {
            End::Failed(e) => Err(e),
            End::Done | End::ClientGone => Ok(ApiJson(reply.completion()).into_response()),
        }
    }
}

fn now() -> i64 {
    time::to_unix(&time::now_rfc3339()).unwrap_or(0)
}

/// How relaying ended.
enum End {
    Done,
    Failed(Error),
    ClientGone,
}

/// One call on its way, with its connection (one task uses it at a time: the handler, then
/// the task that relays the answer).
struct Call {
    db: Db,
    /// Its row in `generations` (the running-answers limit).
    id: String,
    request_id: String,
    caller: Principal,
    model: String,
    timeout: Duration,
}

impl Call {
    /// Asks Ollama while registering the call; a refusal (too many running answers, the rate
    /// limit) drops the Ollama request, which closes it. With several servers the registration
    /// picks the least busy one, so it comes first, and the request fails over from there.
    async fn open(&self, ctx: &RequestContext, body: &serde_json::Value) -> Result<Lines, Error> {
        let config = &ctx.config;
        let order = servers::order(&self.db, config, &self.model).await?;
        let candidates = servers::Candidates::new(config, &order);
        let register = self.register(ctx.rate_limit.as_ref(), &candidates);
        let send = |order: Vec<String>| async move {
            let post = http::Method::POST;
            let (db, model) = (&self.db, Some(self.model.as_str()));
            servers::send(db, config, &order, post, "/api/chat", Some(body), model).await
        };
        let answer = if order.len() > 1 {
            let picked = register.await?;
            match send(servers::starting_with(&order, &picked)).await {
                Ok((resp, server)) => {
                    if server != picked {
                        self.moved_to(&server).await;
                    }
                    Ok(resp)
                }
                Err(e) => Err(e),
            }
        } else {
            match select(std::pin::pin!(register), std::pin::pin!(send(order))).await {
                Either::Left((registered, send)) => {
                    registered?;
                    send.await.map(|(resp, _)| resp)
                }
                Either::Right((answer, register)) => {
                    register.await?;
                    answer.map(|(resp, _)| resp)
                }
            }
        };
        match answer {
            Ok(resp) => Ok(Lines::new(resp, self.timeout)),
            Err(e) => {
                self.unregister().await;
                Err(e)
            }
        }
    }

    /// Counts the call against the rate limit and registers it as a running answer, if the
    /// caller is under the limit of answers at once, on the least busy of `candidates`, which it returns.
    async fn register(
        &self,
        rate_limit: Option<&Pending>,
        candidates: &servers::Candidates,
    ) -> Result<String, Error> {
        let max = settings().await?.max_concurrent_generations;
        self.db
            .transaction(async |db| {
                if let Some(limit) = rate_limit {
                    limit.record(db).await?;
                }
                // No conversation (the stop route names conversations, so never this).
                let (id, user) = (self.id.as_str(), self.caller.user_id.as_str());
                generations::register(db, candidates, id, user, None, self.timeout, max).await
            })
            .await
    }

    /// The call failed over to `server`: its answer in flight counts there.
    async fn moved_to(&self, server: &str) {
        generations::move_to(&self.db, &self.id, server).await;
    }

    async fn unregister(&self) {
        generations::end_logged(&self.db, &self.id).await;
    }

    async fn heartbeat(&self) {
        generations::heartbeat(&self.db, &self.id).await;
    }

    /// `200 text/event-stream` at once (Ollama has begun): chunks as they come, then
    /// `data: [DONE]`; a failure mid-way is an `error` event in OpenAI's shape.
    async fn streamed(self, lines: Lines, reply: Reply) -> Result<Response, Error> {
        let (tx, stream) = spin_sdk::http::body::stream::<String>();
        let (decided_tx, decided_rx) = futures::channel::oneshot::channel();
        task::spawn(async move {
            let mut sink = Sink::stream(tx).on_first_write(decided_tx);
            let (reply, end) = self.relay(lines, reply, &mut sink).await;
            match end {
                End::Done => {
                    sink.queue_data(&reply.closing().to_string());
                    if reply.include_usage() {
                        sink.queue_data(&reply.usage_chunk().to_string());
                    }
                    sink.queue_data("[DONE]");
                }
                End::Failed(e) => {
                    sink.queue_data(&chat_core::openai_error::body(&e).to_string());
                }
                End::ClientGone => {}
            }
            sink.flush().await;
            sink.close();
        })
        .await;
        match decided_rx.await {
            Ok(Ok(())) => Ok(sink::sse_response(axum::body::Body::new(stream))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::internal("the answer ended before its first chunk")),
        }
    }

    /// Passes Ollama's chunks into `sink` until the answer ends, then closes Ollama's
    /// request, ends the registration and counts the usage.
    async fn relay(&self, mut lines: Lines, mut reply: Reply, sink: &mut Sink) -> (Reply, End) {
        let started = Instant::now();
        sink.queue_data(&reply.opening().to_string());
        let mut first = upstream::within(FIRST_CHUNK_JOINS_START, lines.next()).await;
        if first.is_none() {
            sink.flush().await;
        }
        let mut beat = Instant::now();
        let end = loop {
            let next = match first.take() {
                Some(n) => n,
                None => lines.next().await,
            };
            if let Some(end) = take(next, &mut reply, sink) {
                break end;
            }
            if !lines.has_buffered() {
                sink.flush().await;
                if sink.is_gone() {
                    break End::ClientGone;
                }
            }
            if beat.elapsed() >= FLUSH_EVERY {
                beat = Instant::now();
                self.heartbeat().await;
            }
        };
        // Dropping the stream closes the Ollama request (a client gone, a failure).
        drop(lines);
        self.unregister().await;
        let tokens = reply.tokens();
        let labels = chat_core::metrics::labels(&[("model", &self.model)]);
        let (generated, prompt) = (tokens.completion as f64, tokens.prompt as f64);
        metrics::add(
            chat_core::metrics::COMPLETION_TOKENS,
            labels.clone(),
            generated,
        );
        metrics::add(chat_core::metrics::PROMPT_TOKENS, labels, prompt);
        if let Err(e) = usage::record(&self.db, &self.caller, &self.model, tokens).await {
            log::failure(
                chat_core::config::LogLevel::Error,
                &self.request_id,
                "chat",
                "usage not recorded",
                e.causes(),
            );
        }
        log::record(
            chat_core::config::LogLevel::Info,
            &serde_json::json!({
                "event": "completion",
                "model": self.model,
                "outcome": match &end {
                    End::Done => "complete",
                    End::Failed(_) => "failed",
                    End::ClientGone => "client_gone",
                },
                "prompt_tokens": tokens.prompt,
                "completion_tokens": tokens.completion,
                "duration_ms": started.elapsed().as_secs_f64() * 1000.0,
            }),
        );
        (reply, end)
    }
}

/// Takes what Ollama sent next into `reply` (queueing its chunk): the end, if it is one.
fn take(next: Next, reply: &mut Reply, sink: &mut Sink) -> Option<End> {
    match next.chunk() {
        Ok(c) => {
            if let Some(chunk) = reply.take(&c) {
                sink.queue_data(&chunk.to_string());
            }
            c.done.then_some(End::Done)
        }
        Err(e) => Some(End::Failed(e)),
    }
}
