//! `PATCH /api/auth/me`: change display name or email (`null` or `""` clears; absent keeps).

use crate::users::{self, UserEnvelope};
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, Db, Value};
use chat_core::{Error, time};
use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    #[serde(default, deserialize_with = "present")]
    display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    email: Option<Option<String>>,
}

/// Tells "absent" (`None`) from "null" (`Some(None)`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

pub async fn patch(
    Authenticated(principal): Authenticated,
    ApiJson(body): ApiJson<Body>,
) -> Result<ApiJson<UserEnvelope>, Error> {
    let db = Db::open().await?;
    let mut user = users::current(&db, &principal.user_id).await?;
    if let Some(v) = body.display_name {
        user.display_name = users::display_name(v)?;
    }
    if let Some(v) = body.email {
        user.email = users::email(v)?;
    }
    db.execute(
        chat_store::users::SET_PROFILE,
        vec![
            user.display_name
                .clone()
                .map(Value::Text)
                .unwrap_or(Value::Null),
            user.email.clone().map(Value::Text).unwrap_or(Value::Null),
            Value::Text(time::now_rfc3339()),
            Value::Text(user.id.clone()),
        ],
    )
    .await?;
    Ok(ApiJson(UserEnvelope { user: user.view() }))
}
