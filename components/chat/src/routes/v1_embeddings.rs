//! `POST /v1/embeddings`: vectors from Ollama's `/api/embed` (on a server that has the model),
//! as floats or base64.

use crate::openai::embeddings::{self, EmbeddingsRequest};
use crate::{servers, upstream};
use axum::response::Response;
use chat_core::Error;
use chat_core::config::LogLevel;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, Db, RequestContext, log, usage};

pub async fn post(
    Authenticated(caller): Authenticated,
    ctx: RequestContext,
    ApiJson(request): ApiJson<EmbeddingsRequest>,
) -> Result<Response, Error> {
    let body = request.translate()?;
    let (config, model) = (&ctx.config, request.model.as_str());
    let db = Db::open().await?;
    usage::admit(&db, None, &caller, config.quota, None).await?;
    let post = http::Method::POST;
    let timeout = config.ollama_timeout;
    let order = servers::order(&db, config, model).await?;
    let embed = Some(&body);
    let (resp, _) =
        servers::send(&db, config, &order, post, "/api/embed", embed, Some(model)).await?;
    let answer = upstream::json(resp, timeout).await?;
    let (reply, tokens) = embeddings::reply(model, &answer, request.encoding())
        .map_err(|e| upstream::upstream(format!("/api/embed: {e}")))?;
    // The vectors are made: a failure to count them is the operator's, not the caller's.
    if let Err(e) = usage::record(&db, &caller, model, tokens).await {
        let (id, causes) = (&ctx.request_id, e.causes());
        log::failure(LogLevel::Error, id, "chat", "usage not recorded", causes);
    }
    Ok(axum::response::IntoResponse::into_response(ApiJson(reply)))
}
