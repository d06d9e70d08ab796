//! `GET /api/models`: the models installed on the Ollama servers, each with the servers that
//! have it.

use crate::models::{self, Listed};
use chat_core::Error;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, RequestContext};
use serde::Serialize;

#[derive(Serialize)]
pub struct Body {
    items: Vec<Listed>,
}

pub async fn get(_: Authenticated, ctx: RequestContext) -> Result<ApiJson<Body>, Error> {
    Ok(ApiJson(Body {
        items: models::union(&ctx).await?,
    }))
}
