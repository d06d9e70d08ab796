//! `DELETE /api/models/{name}` (admins): removes a model from Ollama.

use crate::{models, upstream};
use axum::http::StatusCode;
use chat_core::Error;
use chat_core::conversation::ModelName;
use chat_core::spin::ApiPath;
use chat_core::spin::RequestContext;
use chat_core::spin::auth::Admin;

pub async fn delete(
    _: Admin,
    ctx: RequestContext,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, Error> {
    let name = ModelName::parse_field(&name, "name")?;
    let cfg = &ctx.config;
    upstream::send(
        &cfg.ollama_url,
        http::Method::DELETE,
        "/api/delete",
        Some(&serde_json::json!({ "model": name.as_str() })),
        cfg.ollama_timeout,
        Some(name.as_str()),
    )
    .await?;
    models::forget().await;
    Ok(StatusCode::NO_CONTENT)
}
