//! `POST /api/conversations/{id}/share`: a public read-only link. Sharing again replaces the
//! link (the old one stops working): the token is shown only here, so it cannot be re-shown.

use crate::shares;
use axum::http::StatusCode;
use chat_core::Error;
use chat_core::ids::ConversationId;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, Db, RequestContext, Value};
use chat_domain::rows::owned;
use serde::Serialize;

#[derive(Serialize)]
pub struct Link {
    token: String,
    url: String,
}

pub async fn post(
    Authenticated(principal): Authenticated,
    ctx: RequestContext,
    id: ConversationId,
) -> Result<(StatusCode, ApiJson<Link>), Error> {
    let db = Db::open().await?;
    let uid = principal.user_id.as_str();
    let link = shares::new_link()?;
    db.transaction(async |db| {
        let c = owned(db, uid, &id).await?;
        db.execute(
            chat_store::conversations::SHARE,
            vec![
                Value::Text(link.token_hash.clone()),
                Value::Text(c.id),
                Value::Text(uid.into()),
                Value::Text(chat_core::time::now_rfc3339()),
            ],
        )
        .await
    })
    .await?;
    let url = shares::url(ctx.full_url.as_deref(), &link.token);
    Ok((
        StatusCode::CREATED,
        ApiJson(Link {
            token: link.token,
            url,
        }),
    ))
}
