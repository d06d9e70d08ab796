//! `POST /api/models/pull` (admins): downloads a model into every Ollama server, or into the one
//! `?server=` names, one server after another, relaying the progress as server-sent `progress`
//! events (each naming its `server`), then `done`, or `error` at the first failure.

use crate::models;
use crate::servers;
use crate::sink::{self, Sink};
use crate::upstream::{self, Lines, Next};
use axum::response::Response;
use chat_core::Error;
use chat_core::spin::auth::Admin;
use chat_core::spin::{ApiJson, ApiQuery, RequestContext};
use chat_domain::conversation::ModelName;
use ollama_api::wire::{PullLine, parse_pull_line};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    server: Option<String>,
}

/// Starts a pull on `server`.
async fn start(server: &str, body: &Value, timeout: Duration, model: &str) -> Result<Lines, Error> {
    let post = http::Method::POST;
    let resp =
        upstream::attempt(server, post, "/api/pull", Some(body), timeout, Some(model)).await?;
    // Verifying a multi-GB download can be silent for a while: allow longer pauses than chat.
    Ok(Lines::new(resp, timeout * 5))
}

pub async fn post(
    _: Admin,
    ctx: RequestContext,
    ApiQuery(q): ApiQuery<Query>,
    ApiJson(b): ApiJson<Body>,
) -> Result<Response, Error> {
    let name = ModelName::parse_field(&b.name, "name")?;
    let cfg = &ctx.config;
    let targets: Vec<String> = servers::chosen(cfg, q.server.as_deref())?
        .into_iter()
        .cloned()
        .collect();
    let timeout = cfg.ollama_timeout;
    let body = json!({ "model": name.as_str(), "stream": true });
    // The first server's refusal is the response's status, as with one server.
    let first = start(&targets[0], &body, timeout, name.as_str()).await?;
    let (tx, stream) = spin_sdk::http::body::stream::<String>();
    chat_core::spin::task::spawn(async move {
        let mut sink = Sink::stream(tx);
        let mut lines = Some(first);
        for server in &targets {
            let current = match lines.take() {
                Some(l) => Ok(l),
                None => start(server, &body, timeout, name.as_str()).await,
            };
            let failure = match current {
                Ok(l) => relay(l, server, &mut sink).await,
                Err(e) => Some(json!({"code": e.code(), "message": e.message()})),
            };
            if let Some(mut error) = failure {
                error["server"] = server.as_str().into();
                sink.emit("error", &json!({ "error": error })).await;
                return;
            }
        }
        models::forget().await;
        sink.emit("done", &json!({"status": "success"})).await;
    })
    .await;
    Ok(sink::sse_response(axum::body::Body::new(stream)))
}

/// Relays one server's progress until it succeeds (`None`) or fails (the error to send).
async fn relay(mut lines: Lines, server: &str, sink: &mut Sink) -> Option<Value> {
    let fail = |m: &str| Some(json!({"code": "UPSTREAM_ERROR", "message": m}));
    loop {
        match lines.next().await {
            Next::Line(l) => match parse_pull_line(&l) {
                Ok(PullLine::Progress(p)) if p.status == "success" => return None,
                Ok(PullLine::Progress(p)) => {
                    let mut event = serde_json::to_value(&p).unwrap_or_default();
                    event["server"] = server.into();
                    // One write per wait (see `Sink`).
                    sink.queue("progress", &event);
                    if !lines.has_buffered() {
                        sink.flush().await;
                    }
                }
                Ok(PullLine::Error(e)) => {
                    return fail(&format!("Ollama could not pull the model: {e}"));
                }
                Err(_) => return fail("Ollama sent an unreadable progress line."),
            },
            Next::End => return fail("The pull ended before it finished."),
            Next::Stalled => {
                return Some(
                    json!({"code": "UPSTREAM_TIMEOUT", "message": "Ollama stopped reporting progress."}),
                );
            }
            Next::Failed(_) => return fail("Reading Ollama's progress failed."),
        }
    }
}
