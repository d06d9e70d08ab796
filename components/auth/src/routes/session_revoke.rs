//! `DELETE /api/auth/sessions/{id}`: end one of your sessions (another user's is `404`).

use crate::sessions;
use axum::http::StatusCode;
use chat_core::Error;
use chat_core::ids::SessionId;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{Db, FromRow, Row, Value};

struct Found;

impl FromRow for Found {
    fn from_row(_: &Row<'_>) -> Result<Self, Error> {
        Ok(Self)
    }
}

pub async fn delete(
    Authenticated(principal): Authenticated,
    id: SessionId,
) -> Result<StatusCode, Error> {
    let db = Db::open().await?;
    let mine: Option<Found> = db
        .query_opt(
            chat_store::sessions::FIND_LIVE,
            vec![
                Value::Text(id.to_string()),
                Value::Text(principal.user_id.clone()),
            ],
        )
        .await?;
    if mine.is_none() {
        return Err(Error::not_found("Session"));
    }
    sessions::revoke(&db, &principal.user_id, &[id.into()]).await?;
    Ok(StatusCode::NO_CONTENT)
}
