//! `GET /api/conversations/export`: every conversation of the caller (archived too) with its
//! messages, as one JSON document that import takes back.

use super::export_one::attach;
use crate::export::{self, ExportDocument, ExportedConversation};
use axum::response::{IntoResponse, Response};
use chat_core::Error;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, Db, Value};
use chat_domain::rows::{ConversationRow, MessageRow};
use std::collections::HashMap;

pub async fn get(Authenticated(principal): Authenticated) -> Result<Response, Error> {
    let db = Db::open().await?;
    let uid = Value::Text(principal.user_id.clone());
    // Two queries, not one per conversation.
    let rows: Vec<ConversationRow> = db
        .query(chat_store::conversations::ALL_OF_USER, vec![uid.clone()])
        .await?;
    let messages: Vec<MessageRow> = db
        .query(chat_store::messages::ALL_OF_USER, vec![uid])
        .await?;
    let mut by_conversation: HashMap<String, Vec<_>> = HashMap::new();
    for m in messages {
        by_conversation
            .entry(m.view.conversation_id.clone())
            .or_default()
            .push(m.view);
    }
    let doc = ExportDocument {
        version: export::FORMAT_VERSION,
        exported_at: chat_core::time::now_rfc3339(),
        conversations: rows
            .iter()
            .map(|r| ExportedConversation {
                conversation: r.view(),
                messages: by_conversation.remove(&r.id).unwrap_or_default(),
            })
            .collect(),
    };
    let mut response = ApiJson(doc).into_response();
    attach(&mut response, "conversations.json");
    Ok(response)
}
