//! `GET /v1/models` and `GET /v1/models/{model}`: Ollama's installed models as OpenAI's model
//! objects (from the same short-lived cache as `/api/models`).

use crate::openai::models::{list as model_list, model};
use crate::{models, upstream};
use chat_core::Error;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, ApiPath, RequestContext};
use serde_json::Value;

pub async fn list(_: Authenticated, ctx: RequestContext) -> Result<ApiJson<Value>, Error> {
    let installed = models::list(&ctx).await?;
    let items = installed.iter().map(|m| model(m.name(), m.modified_at()));
    Ok(ApiJson(model_list(items)))
}

pub async fn get(
    _: Authenticated,
    ctx: RequestContext,
    ApiPath(name): ApiPath<String>,
) -> Result<ApiJson<Value>, Error> {
    let installed = models::list(&ctx).await?;
    installed
        .iter()
        .find(|m| m.answers_to(&name))
        .map(|m| ApiJson(model(m.name(), m.modified_at())))
        .ok_or_else(|| upstream::model_not_found(&name))
}
