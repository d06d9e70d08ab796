//! `GET /api/models/{name}`: a model's details from Ollama's `/api/show` (`404
//! MODEL_NOT_FOUND` when it is not installed).

use crate::upstream;
use chat_core::Error;
use chat_core::conversation::ModelName;
use chat_core::spin::ApiPath;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, RequestContext};
use serde_json::Value;

pub async fn get(
    _: Authenticated,
    ctx: RequestContext,
    ApiPath(name): ApiPath<String>,
) -> Result<ApiJson<Value>, Error> {
    let name = ModelName::parse_field(&name, "name")?;
    let cfg = &ctx.config;
    let resp = upstream::send(
        &cfg.ollama_url,
        http::Method::POST,
        "/api/show",
        Some(&serde_json::json!({ "model": name.as_str() })),
        cfg.ollama_timeout,
        Some(name.as_str()),
    )
    .await?;
    let mut v = upstream::json(resp, cfg.ollama_timeout).await?;
    if let Some(o) = v.as_object_mut() {
        o.insert("name".into(), name.as_str().into());
    }
    Ok(ApiJson(v))
}
