//! What sending a message and regenerating share: pick the model and options, plan the
//! generation, store it while Ollama starts, then answer as server-sent events or as one JSON
//! object.

use crate::generation::{self, Outcome, Question, Sink};
use crate::settings::settings;
use crate::stored::Stored;
use crate::upstream;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chat_core::Error;
use chat_core::conversation::{MessageView, ModelName, ModelOptions};
use chat_core::spin::{ApiJson, Db, RequestContext, metrics, ratelimit, task};
use serde::Serialize;
use std::sync::Arc;

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

#[derive(Serialize)]
struct Exchange {
    user_message: MessageView,
    assistant_message: MessageView,
}

pub async fn respond(
    ctx: &RequestContext,
    user_id: &str,
    conversation_id: &str,
    ask: Ask<'_>,
) -> Result<Response, Error> {
    let settings = settings().await?;
    let db = Db::open().await?;
    let timeout = ctx.config.ollama_timeout;
    // The rate limit (left to this handler by the pipeline) is checked with a read that goes
    // to SQLite together with the conversation's, on this connection: nothing waits for a
    // write before Ollama is asked. The request is counted when its question is stored.
    let count = async {
        match &ctx.rate_limit {
            Some(pending) => pending.check(&db).await,
            None => Ok(None),
        }
    };
    let (quota, loaded) = futures::join!(
        count,
        generation::load(&db, user_id, conversation_id, timeout, &settings)
    );
    let quota = quota?;
    let answered = match loaded {
        Ok(loaded) => answer(ctx, user_id, db, loaded, ask, settings).await,
        Err(e) => Err(e),
    };
    Ok(ratelimit::stamp(quota, answered))
}

/// Plans the answer to `loaded` and gives it, streamed or whole.
async fn answer(
    ctx: &RequestContext,
    user_id: &str,
    db: Db,
    loaded: generation::Loaded,
    ask: Ask<'_>,
    settings: Arc<crate::settings::Settings>,
) -> Result<Response, Error> {
    let config = ctx.config.clone();
    let timeout = config.ollama_timeout;
    let conversation = &loaded.conversation;
    let model = ask
        .model
        .map(|m| m.as_str().to_string())
        .or_else(|| conversation.model.clone())
        .unwrap_or_else(|| config.default_model.clone());
    let options = ModelOptions::merged(conversation.options.as_ref(), ask.options.as_ref());
    let plan = generation::plan(
        &db,
        loaded,
        ask.question,
        generation::Choice { model, options },
        &settings,
    )
    .await?;
    let base = config.ollama_url.clone();
    let body = plan.ollama_body();
    let prepared = Arc::new(plan.prepare()?);
    let db = Arc::new(db);
    // The question is stored on its own task while Ollama starts: the writes are off the path
    // to the first token, and `start` does not wait for their commit. If storing fails before
    // Ollama answers, the call is dropped (which closes it) and the failure is the answer.
    // The store has the connection to itself until it is done (see `Stored::new`).
    let mut stored = Stored::new(
        db.clone(),
        user_id.to_string(),
        prepared.clone(),
        settings,
        timeout,
        ctx.rate_limit.clone(),
    );
    let call = {
        let (base, model) = (base.clone(), prepared.model.clone());
        async move {
            let path = "/api/chat";
            upstream::send(
                &base,
                http::Method::POST,
                path,
                Some(&body),
                timeout,
                Some(&model),
            )
            .await
        }
    };

    if !ask.stream {
        let lines = match generation::open(&db, &prepared, call, &mut stored, timeout).await {
            Ok(lines) => lines,
            Err(e) => {
                count(&prepared.model, Err(&e)).await;
                return Err(e);
            }
        };
        let outcome = generation::run(&db, &prepared, lines, &mut Sink::none(), &mut stored).await;
        count(&prepared.model, Ok(&outcome)).await;
        if let Some(e) = outcome.error {
            return Err(e);
        }
        if prepared.wants_title && !outcome.stopped {
            generation::title(&db, &prepared, &outcome.message.content, &base, timeout).await;
        }
        let body = Exchange {
            user_message: prepared.user_message.clone(),
            assistant_message: outcome.message,
        };
        return Ok((StatusCode::CREATED, ApiJson(body)).into_response());
    }

    let (tx, body) = spin_sdk::http::body::stream::<String>();
    let (decided_tx, decided_rx) = futures::channel::oneshot::channel();
    // The task outlives this handler: Spin keeps the instance while it runs, also after the
    // client has gone, so the answer is finished and stored either way.
    task::spawn(async move {
        let lines = match generation::open(&db, &prepared, call, &mut stored, timeout).await {
            Ok(lines) => lines,
            Err(e) => {
                count(&prepared.model, Err(&e)).await;
                let _ = decided_tx.send(Err(e));
                return;
            }
        };
        let mut sink = Sink::stream(tx).on_first_write(decided_tx);
        let outcome = generation::run(&db, &prepared, lines, &mut sink, &mut stored).await;
        count(&prepared.model, Ok(&outcome)).await;
        let Outcome {
            message,
            error,
            stopped,
        } = outcome;
        match error {
            None => {
                sink.emit("done", &serde_json::json!({ "message": message }))
                    .await
            }
            Some(e) => {
                let data = serde_json::json!({"error": {"code": e.code(), "message": e.message()}});
                sink.emit("error", &data).await;
            }
        }
        sink.close();
        if prepared.wants_title
            && !stopped
            && message.status == chat_core::conversation::Status::Complete
        {
            generation::title(&db, &prepared, &message.content, &base, timeout).await;
        }
    })
    .await;
    // Answer once Ollama has answered and `start` (with the first token, if it comes soon) is
    // queued, so the response head and the first events leave in one TCP segment; or with the
    // status of a failure before any event.
    match decided_rx.await {
        Ok(Ok(())) => Ok(generation::sse_response(axum::body::Body::new(body))),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Error::internal(
            "the generation ended before its first event",
        )),
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
    if let Ok(Outcome {
        message: MessageView {
            usage: Some(usage), ..
        },
        ..
    }) = result
    {
        let model = chat_core::metrics::labels(&[("model", model)]);
        metrics::add(
            chat_core::metrics::COMPLETION_TOKENS,
            model.clone(),
            usage.completion_tokens as f64,
        );
        metrics::add(
            chat_core::metrics::PROMPT_TOKENS,
            model,
            usage.prompt_tokens as f64,
        );
    }
    metrics::flush_soon().await;
}
