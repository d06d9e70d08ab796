//! A title for an untitled conversation after its first exchange.

use crate::plan::Prepared;
use crate::upstream;
use chat_core::spin::{Db, Value};
use chat_core::usage::Tokens;
use serde_json::json;
use std::time::Duration;

/// Gives an untitled conversation a title after its first exchange: the model's short
/// suggestion, else the question's first words. Never delays the answer: it runs after it.
/// What asking the model cost, if it answered.
pub async fn title(
    db: &Db,
    p: &Prepared,
    answer: &str,
    base: &str,
    timeout: Duration,
) -> Option<Tokens> {
    let question = p.user_message.content.as_str();
    let body = json!({
        "model": p.model,
        "messages": [{"role": "user", "content": crate::context::title_prompt(question, answer)}],
        "stream": false,
        "think": false,
        "options": {"temperature": 0.2, "num_predict": 24},
    });
    let limit = timeout.min(Duration::from_secs(20));
    let reply = match upstream::attempt(
        base,
        http::Method::POST,
        "/api/chat",
        Some(&body),
        limit,
        None,
    )
    .await
    {
        Ok(resp) => upstream::json(resp, limit).await.ok(),
        Err(_) => None,
    };
    let suggested = reply.as_ref().and_then(|v| {
        v["message"]["content"]
            .as_str()
            .and_then(crate::context::clean_title)
    });
    let tokens = reply.as_ref().map(|v| Tokens {
        prompt: v["prompt_eval_count"].as_u64().unwrap_or(0),
        completion: v["eval_count"].as_u64().unwrap_or(0),
    });
    if let Some(t) = suggested.or_else(|| crate::context::fallback_title(question)) {
        let _ = db
            .execute(
                chat_store::conversations::SET_TITLE_IF_NONE,
                vec![
                    Value::Text(t.as_str().into()),
                    Value::Text(p.conversation.id.clone()),
                ],
            )
            .await;
    }
    tokens
}
