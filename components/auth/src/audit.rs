//! The security audit log: one row per event, never a secret.

use chat_core::Error;
use chat_core::spin::{Db, Value, log};
use serde_json::Value as Json;

/// Where a request came from, for sessions and the audit log.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Client {
    pub fn from(ctx: &chat_core::spin::RequestContext, headers: &http::HeaderMap) -> Self {
        Self {
            ip: ctx.client_ip.clone(),
            user_agent: headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| ua.chars().take(256).collect()),
        }
    }
}

pub async fn record(
    db: &Db,
    event: &str,
    user_id: Option<&str>,
    client: &Client,
    details: Json,
) -> Result<(), Error> {
    let result = db
        .execute(
            chat_store::audit::RECORD,
            vec![
                Value::Text(chat_core::ids::new_id()),
                Value::Text(chat_core::time::now_rfc3339()),
                user_id
                    .map(|u| Value::Text(u.into()))
                    .unwrap_or(Value::Null),
                Value::Text(event.into()),
                client.ip.clone().map(Value::Text).unwrap_or(Value::Null),
                client
                    .user_agent
                    .clone()
                    .map(Value::Text)
                    .unwrap_or(Value::Null),
                if details.is_null() {
                    Value::Null
                } else {
                    Value::Text(details.to_string())
                },
            ],
        )
        .await;
    // An audit failure must not turn a good request into an error; it is logged instead.
    if let Err(e) = result {
        log::error("-", "auth", "audit log write failed", e.causes());
    }
    Ok(())
}
