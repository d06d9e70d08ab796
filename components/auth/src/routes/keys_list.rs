//! `GET /api/auth/keys`: your API keys (never the keys themselves).

use crate::keys::KeyView;
use chat_core::Error;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, Db, Value};
use serde::Serialize;

#[derive(Serialize)]
pub struct Keys {
    items: Vec<KeyView>,
}

pub async fn get(Authenticated(principal): Authenticated) -> Result<ApiJson<Keys>, Error> {
    let db = Db::open().await?;
    let now = chat_core::time::now_rfc3339();
    let items = db
        .query(
            chat_store::keys::LIST,
            vec![Value::Text(principal.user_id.clone()), Value::Text(now)],
        )
        .await?;
    Ok(ApiJson(Keys { items }))
}
