//! `GET /api/auth/sessions`: the signed-in user's live sessions; `current` marks this one.

use chat_core::Error;
use chat_core::auth::principal::Credential;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, Db, Value};
use serde::Serialize;

#[derive(Serialize)]
pub struct SessionView {
    id: String,
    created_at: String,
    last_used_at: String,
    expires_at: String,
    user_agent: Option<String>,
    ip: Option<String>,
    current: bool,
}

chat_core::from_columns!(SessionView {
    id,
    created_at,
    last_used_at,
    expires_at,
    user_agent,
    ip;
    current: false,
});

#[derive(Serialize)]
pub struct Sessions {
    items: Vec<SessionView>,
}

pub async fn get(Authenticated(principal): Authenticated) -> Result<ApiJson<Sessions>, Error> {
    let db = Db::open().await?;
    let mut items: Vec<SessionView> = db
        .query(
            chat_store::sessions::LIST,
            vec![
                Value::Text(principal.user_id.clone()),
                Value::Text(chat_core::time::now_rfc3339()),
            ],
        )
        .await?;
    if let Credential::Session(sid) = &principal.credential {
        for s in &mut items {
            s.current = &s.id == sid;
        }
    }
    Ok(ApiJson(Sessions { items }))
}
