//! Brute-force protection for login, on top of the general rate limits: counters per client
//! IP and per username (`chat_core::spin::ratelimit`, atomic in SQLite). A good login clears
//! its username's counter.

use chat_core::Error;
use chat_core::spin::{Db, ratelimit};

/// Counts one attempt under `key`; `429 RATE_LIMITED` with `retry-after` once over `limit`.
pub async fn hit(db: &Db, key: &str, limit: i64, window: i64, now: i64) -> Result<(), Error> {
    let limit = u32::try_from(limit).unwrap_or(u32::MAX);
    let window = u32::try_from(window).unwrap_or(u32::MAX);
    let quota = ratelimit::count(db, key, limit, window, now).await?;
    if quota.exceeded() {
        return Err(quota.refused("Too many sign-in attempts. Try again later."));
    }
    Ok(())
}

pub async fn reset(db: &Db, key: &str) -> Result<(), Error> {
    ratelimit::reset(db, key).await
}
