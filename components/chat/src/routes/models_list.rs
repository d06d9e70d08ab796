//! `GET /api/models`: the models installed in Ollama.

use crate::models::{self, ModelInfo};
use chat_core::Error;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, RequestContext};
use serde::Serialize;

#[derive(Serialize)]
pub struct Body {
    items: Vec<ModelInfo>,
}

pub async fn get(_: Authenticated, ctx: RequestContext) -> Result<ApiJson<Body>, Error> {
    Ok(ApiJson(Body {
        items: models::list(&ctx).await?,
    }))
}
