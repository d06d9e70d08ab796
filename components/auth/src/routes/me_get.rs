//! `GET /api/auth/me`: the signed-in user.

use crate::users::{self, UserEnvelope};
use chat_core::Error;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, Db};

pub async fn get(Authenticated(principal): Authenticated) -> Result<ApiJson<UserEnvelope>, Error> {
    let db = Db::open().await?;
    let user = users::current(&db, &principal.user_id).await?;
    Ok(ApiJson(UserEnvelope { user: user.view() }))
}
