//! The answer as stored while it runs (the partial answer and heartbeat, [`flush`]) and when
//! it ends ([`finish`]).

use crate::generations;
use crate::plan::Prepared;
use chat_core::spin::{Db, Value, log};
use chat_core::time;
use chat_domain::conversation::{MessageView, Status, Usage};

/// Keeps the partial answer stored and the generation's heartbeat fresh. Best effort: a
/// failed flush only means less is stored if the instance dies before the end.
pub async fn flush(db: &Db, p: &Prepared, content: &str, thinking: &str) {
    let _ = db
        .execute(
            chat_store::messages::SAVE_PARTIAL,
            vec![
                Value::Text(content.into()),
                opt(thinking),
                Value::Text(p.assistant.id.clone()),
            ],
        )
        .await;
    generations::heartbeat(db, &p.assistant.id).await;
}

fn opt(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::Text(s.into())
    }
}

/// Stores the answer as it ended and ends the generation. Retried once: losing the final
/// write would lose the answer.
pub async fn finish(
    db: &Db,
    p: &Prepared,
    content: &str,
    thinking: &str,
    status: Status,
    usage: Option<&Usage>,
) -> MessageView {
    let usage_json = usage.and_then(|u| serde_json::to_string(u).ok());
    for attempt in 0..2 {
        let result = db
            .transaction(async |db| {
                db.execute(
                    chat_store::messages::SAVE_FINAL,
                    vec![
                        Value::Text(content.into()),
                        opt(thinking),
                        Value::Text(status.as_str().into()),
                        usage_json.clone().map_or(Value::Null, Value::Text),
                        Value::Text(p.assistant.id.clone()),
                    ],
                )
                .await?;
                db.execute(
                    chat_store::conversations::TOUCH,
                    vec![
                        Value::Text(time::now_rfc3339()),
                        Value::Text(p.conversation.id.clone()),
                    ],
                )
                .await?;
                generations::end(db, &p.assistant.id).await
            })
            .await;
        match result {
            Ok(_) => break,
            Err(e) => log::record(
                chat_core::config::LogLevel::Error,
                &StoreFailed {
                    event: "store_answer_failed",
                    attempt,
                    causes: e.causes(),
                },
            ),
        }
    }
    MessageView {
        content: content.into(),
        thinking: (!thinking.is_empty()).then(|| thinking.to_string()),
        status,
        usage: usage.cloned(),
        ..p.assistant.clone()
    }
}

/// The log line of a failed final write.
#[derive(serde::Serialize)]
struct StoreFailed<'a> {
    event: &'static str,
    attempt: u32,
    causes: &'a [String],
}
