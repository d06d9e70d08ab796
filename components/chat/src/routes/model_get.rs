//! `GET /api/models/{name}`: a model's details from `/api/show` of a server that has it (`404
//! MODEL_NOT_FOUND` when none has).

use crate::{servers, upstream};
use chat_core::Error;
use chat_core::spin::ApiPath;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, Db, RequestContext};
use chat_domain::conversation::ModelName;
use serde_json::Value;

pub async fn get(
    _: Authenticated,
    ctx: RequestContext,
    ApiPath(name): ApiPath<String>,
) -> Result<ApiJson<Value>, Error> {
    let name = ModelName::parse_field(&name, "name")?;
    let cfg = &ctx.config;
    let db = Db::open().await?;
    let order = servers::order(&db, cfg, name.as_str()).await?;
    let body = serde_json::json!({ "model": name.as_str() });
    let post = http::Method::POST;
    let (resp, _) = servers::send(
        &db,
        cfg,
        &order,
        post,
        "/api/show",
        Some(&body),
        Some(name.as_str()),
    )
    .await?;
    let mut v = upstream::json(resp, cfg.ollama_timeout).await?;
    if let Some(o) = v.as_object_mut() {
        o.insert("name".into(), name.as_str().into());
    }
    Ok(ApiJson(v))
}
