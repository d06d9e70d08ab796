//! A running answer's whole life in `generations` (statements in `chat_store::generations`):
//! registered under the per-user limit on the server it runs on, kept alive by a heartbeat,
//! moved when it fails over, asked to stop from any instance, and ended. A row whose heartbeat
//! is older than [`stale_before`] belongs to an instance that died and counts for nothing.

use crate::servers::Candidates;
use chat_core::spin::{Db, Value, log};
use chat_core::{Error, ErrorCode, time};
use chat_store::generations as sql;
use std::time::Duration;

/// A generation whose heartbeat is older than the Ollama timeout plus this is considered
/// dead (its instance went away) and no longer counts against its user.
const STALE_AFTER: Duration = Duration::from_secs(30);

/// The time before which a heartbeat is stale, with Ollama's `timeout`.
pub fn stale_before(timeout: Duration) -> String {
    let secs = (timeout + STALE_AFTER).as_secs() as i64;
    time::from_now(-secs)
}

/// The refusal of an answer over the per-user limit of `max` at once.
pub fn too_many(max: i64) -> Error {
    Error::new(
        ErrorCode::RateLimited,
        format!("You already have {max} answers being generated; wait for one to finish."),
    )
    .detail("max_concurrent_generations", max)
    .header(http::header::RETRY_AFTER, "1")
}

/// A column `n` of one row.
struct Count(i64);

chat_core::from_columns!(Count(n));

/// The server a registration picked.
struct Picked(Option<String>);

chat_core::from_columns!(Picked(server));

/// Registers the running answer `id` of `user_id` (in `conversation`; `None` for `/v1`, stored
/// as `''`, which names no conversation) on the least busy of `candidates`, if the user is
/// under `max` answers at once: one statement that counts and inserts. The server it picked;
/// `429` over the limit.
pub async fn register(
    db: &Db,
    candidates: &Candidates,
    id: &str,
    user_id: &str,
    conversation: Option<&str>,
    timeout: Duration,
    max: i64,
) -> Result<String, Error> {
    let statement = if candidates.several() {
        sql::REGISTER_LEAST_BUSY
    } else {
        sql::REGISTER_ON
    };
    let registered: Vec<Picked> = db
        .query(
            statement,
            vec![
                Value::Text(id.into()),
                Value::Text(user_id.into()),
                Value::Text(conversation.unwrap_or_default().into()),
                Value::Text(time::now_rfc3339()),
                Value::Text(stale_before(timeout)),
                Value::Integer(max),
                Value::Text(candidates.param()),
            ],
        )
        .await?;
    match registered.into_iter().next() {
        Some(Picked(server)) => Ok(server.unwrap_or_default()),
        None => Err(too_many(max)),
    }
}

/// Answer `id` is alive. Best effort: a missed beat only matters after `STALE_AFTER`.
pub async fn heartbeat(db: &Db, id: &str) {
    let now = Value::Text(time::now_rfc3339());
    let _ = db
        .execute(sql::HEARTBEAT, vec![now, Value::Text(id.into())])
        .await;
}

/// Answer `id` failed over to `server`: its answer in flight counts there.
pub async fn move_to(db: &Db, id: &str, server: &str) {
    let params = vec![Value::Text(server.into()), Value::Text(id.into())];
    if let Err(e) = db.execute(sql::MOVE_TO, params).await {
        log::warn("running answer not moved", e.causes());
    }
}

/// Answer `id` has ended (or never began).
pub async fn end(db: &Db, id: &str) -> Result<(), Error> {
    db.execute(sql::END, vec![Value::Text(id.into())]).await
}

/// As [`end`], with a failure logged rather than returned (the row goes stale in time).
pub async fn end_logged(db: &Db, id: &str) {
    if let Err(e) = end(db, id).await {
        log::warn("running answer not unregistered", e.causes());
    }
}

/// Whether a stop was asked for answer `id` (`false` once it has ended, or on a failed read).
pub async fn stop_requested(db: &Db, id: &str) -> bool {
    db.query_opt::<Count>(sql::STOP_REQUESTED, vec![Value::Text(id.into())])
        .await
        .ok()
        .flatten()
        .is_some_and(|c| c.0 != 0)
}

/// Asks the live answers of `conversation_id` of `user_id` to stop: how many were asked.
pub async fn request_stop(
    db: &Db,
    conversation_id: &str,
    user_id: &str,
    timeout: Duration,
) -> Result<u64, Error> {
    db.changed(sql::REQUEST_STOP, live(conversation_id, user_id, timeout))
        .await
}

/// How many answers of `conversation_id` of `user_id` are still live.
pub async fn live_in_conversation(
    db: &Db,
    conversation_id: &str,
    user_id: &str,
    timeout: Duration,
) -> Result<i64, Error> {
    let params = live(conversation_id, user_id, timeout);
    let count: Option<Count> = db.query_opt(sql::LIVE_IN_CONVERSATION, params).await?;
    Ok(count.map_or(0, |c| c.0))
}

fn live(conversation_id: &str, user_id: &str, timeout: Duration) -> Vec<Value> {
    vec![
        Value::Text(conversation_id.into()),
        Value::Text(user_id.into()),
        Value::Text(stale_before(timeout)),
    ]
}
