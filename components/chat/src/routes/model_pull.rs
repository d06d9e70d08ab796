//! `POST /api/models/pull` (admins): downloads a model into Ollama, relaying its progress as
//! server-sent `progress` events, then `done` or `error`.

use crate::models;
use crate::sink::{self, Sink};
use crate::upstream::{self, Lines, Next};
use axum::response::Response;
use chat_core::Error;
use chat_core::conversation::ModelName;
use chat_core::ollama::{PullLine, parse_pull_line};
use chat_core::spin::auth::Admin;
use chat_core::spin::{ApiJson, RequestContext};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    name: String,
}

pub async fn post(
    _: Admin,
    ctx: RequestContext,
    ApiJson(b): ApiJson<Body>,
) -> Result<Response, Error> {
    let name = ModelName::parse_field(&b.name, "name")?;
    let cfg = &ctx.config;
    let resp = upstream::send(
        &cfg.ollama_url,
        http::Method::POST,
        "/api/pull",
        Some(&json!({ "model": name.as_str(), "stream": true })),
        cfg.ollama_timeout,
        Some(name.as_str()),
    )
    .await?;
    // Verifying a multi-GB download can be silent for a while: allow longer pauses than chat.
    let mut lines = Lines::new(resp, cfg.ollama_timeout * 5);
    let (tx, body) = spin_sdk::http::body::stream::<String>();
    chat_core::spin::task::spawn(async move {
        let mut sink = Sink::stream(tx);
        let fail = |m: String| json!({"error": {"code": "UPSTREAM_ERROR", "message": m}});
        loop {
            match lines.next().await {
                Next::Line(l) => match parse_pull_line(&l) {
                    Ok(PullLine::Progress(p)) if p.status == "success" => {
                        models::forget().await;
                        sink.emit("done", &json!({"status": p.status})).await;
                        break;
                    }
                    Ok(PullLine::Progress(p)) => {
                        // One write per wait (see `Sink`).
                        sink.queue("progress", &p);
                        if !lines.has_buffered() {
                            sink.flush().await;
                        }
                    }
                    Ok(PullLine::Error(e)) => {
                        sink.emit(
                            "error",
                            &fail(format!("Ollama could not pull the model: {e}")),
                        )
                        .await;
                        break;
                    }
                    Err(_) => {
                        sink.emit(
                            "error",
                            &fail("Ollama sent an unreadable progress line.".into()),
                        )
                        .await;
                        break;
                    }
                },
                Next::End => {
                    sink.emit("error", &fail("The pull ended before it finished.".into()))
                        .await;
                    break;
                }
                Next::Stalled => {
                    let e = json!({"error": {"code": "UPSTREAM_TIMEOUT", "message": "Ollama stopped reporting progress."}});
                    sink.emit("error", &e).await;
                    break;
                }
                Next::Failed(_) => {
                    sink.emit("error", &fail("Reading Ollama's progress failed.".into()))
                        .await;
                    break;
                }
            }
        }
    })
    .await;
    Ok(sink::sse_response(axum::body::Body::new(body)))
}
