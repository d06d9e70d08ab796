//! `GET /api/conversations/{id}/export?format=json|markdown`: one conversation as a download,
//! JSON in the export format (importable) or Markdown (for reading).

use crate::export::{self, ExportDocument, ExportedConversation};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chat_core::Error;
use chat_core::ids::ConversationId;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, ApiQuery, Db};
use chat_domain::rows::{all_messages, owned};
use serde::Deserialize;

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Json,
    Markdown,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    #[serde(default)]
    format: Format,
}

pub async fn get(
    Authenticated(principal): Authenticated,
    id: ConversationId,
    ApiQuery(q): ApiQuery<Query>,
) -> Result<Response, Error> {
    let db = Db::open().await?;
    let conversation = owned(&db, &principal.user_id, &id).await?.view();
    let messages: Vec<_> = all_messages(&db, &conversation.id)
        .await?
        .into_iter()
        .map(|m| m.view)
        .collect();
    let title = conversation.title.clone();
    let (mut response, extension) = match q.format {
        Format::Markdown => {
            let mut r = export::markdown(&conversation, &messages).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/markdown; charset=utf-8"),
            );
            (r, "md")
        }
        Format::Json => {
            let doc = ExportDocument {
                version: export::FORMAT_VERSION,
                exported_at: chat_core::time::now_rfc3339(),
                conversations: vec![ExportedConversation {
                    conversation,
                    messages,
                }],
            };
            (ApiJson(doc).into_response(), "json")
        }
    };
    attach(
        &mut response,
        &export::file_name(title.as_deref(), extension),
    );
    Ok(response)
}

/// Marks a response as a download named `name` (an ASCII slug, so no quoting issues).
pub fn attach(response: &mut Response, name: &str) {
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
}
