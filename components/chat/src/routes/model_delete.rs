//! `DELETE /api/models/{name}` (admins): removes a model from every Ollama server that has it,
//! or from the one `?server=` names. `404 MODEL_NOT_FOUND` when none had it.

use crate::{models, servers, upstream};
use axum::http::StatusCode;
use chat_core::Error;
use chat_core::spin::auth::Admin;
use chat_core::spin::{ApiPath, ApiQuery, RequestContext};
use chat_domain::conversation::ModelName;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    server: Option<String>,
}

pub async fn delete(
    _: Admin,
    ctx: RequestContext,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<Query>,
) -> Result<StatusCode, Error> {
    let name = ModelName::parse_field(&name, "name")?;
    let cfg = &ctx.config;
    let targets = servers::chosen(cfg, q.server.as_deref())?;
    let body = serde_json::json!({ "model": name.as_str() });
    let deleted = futures::future::join_all(targets.iter().map(|url| {
        let method = http::Method::DELETE;
        let model = Some(name.as_str());
        upstream::attempt(
            url,
            method,
            "/api/delete",
            Some(&body),
            cfg.ollama_timeout,
            model,
        )
    }))
    .await;
    models::forget().await;
    let mut any = false;
    let mut not_found = None;
    for result in deleted {
        match result {
            Ok(_) => any = true,
            // This server did not have it; another may have.
            Err(upstream::Failed::NoModel(e)) => not_found = Some(e),
            Err(f) => return Err(f.error()),
        }
    }
    match (any, not_found) {
        (false, Some(e)) => Err(e),
        _ => Ok(StatusCode::NO_CONTENT),
    }
}
