//! `PATCH /api/conversations/{id}`: change settings. An absent field stays as it is; `null`
//! clears `title`, `model`, `system_prompt`, `options` and `tags` (the merge:
//! `chat_domain::settings::SettingsPatch`).

use super::create::Envelope;
use crate::fields;
use chat_core::Error;
use chat_core::ids::ConversationId;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, Db, Value};
use chat_domain::rows::owned;
use chat_domain::settings::{PatchBody, SettingsPatch};

pub async fn patch(
    Authenticated(principal): Authenticated,
    id: ConversationId,
    ApiJson(body): ApiJson<PatchBody>,
) -> Result<ApiJson<Envelope>, Error> {
    // Validate everything before touching the row.
    let change = SettingsPatch::parse(body)?;
    let db = Db::open().await?;
    let uid = principal.user_id.as_str();
    db.transaction(async |db| {
        let row = owned(db, uid, &id).await?;
        let s = change.apply(&row.settings());
        let mut params = fields::params_of(&s).to_vec();
        params.extend([
            Value::Text(chat_core::time::now_rfc3339()),
            Value::Text(id.to_string()),
        ]);
        db.execute(chat_store::conversations::UPDATE, params)
            .await?;
        if s.tags != row.tags {
            fields::write_tags(db, uid, &id, &s.tags).await?;
        }
        Ok(())
    })
    .await?;
    let row = owned(&db, uid, &id).await?;
    Ok(ApiJson(Envelope {
        conversation: row.view(),
    }))
}
