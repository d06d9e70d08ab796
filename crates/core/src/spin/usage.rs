//! Usage and quotas on Spin: answers counted in `usage` for their user and, when called with
//! one, their API key ([`record`]); a caller's quotas checked before Ollama is asked, in the
//! same read as the rate limit's ([`admit`]).

use super::ratelimit::Pending;
use super::{Db, Value, log, metrics};
use crate::auth::principal::{Credential, Principal};
use crate::error::Error;
use crate::ratelimit::Quota;
use crate::usage::{DefaultQuota, Limits, Standing, Tokens, Used, day_of, effective, month_start};

fn key_id(caller: &Principal) -> String {
    match &caller.credential {
        Credential::ApiKey(id) => id.clone(),
        Credential::Session(_) => String::new(),
    }
}

fn int(n: u64) -> Value {
    Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Adds one answer of `model` to today's row of the caller (and key).
pub async fn record(db: &Db, caller: &Principal, model: &str, tokens: Tokens) -> Result<(), Error> {
    let now = crate::time::now_rfc3339();
    db.execute(
        chat_store::usage::RECORD,
        vec![
            Value::Text(caller.user_id.clone()),
            Value::Text(day_of(&now).to_string()),
            Value::Text(key_id(caller)),
            Value::Text(model.to_string()),
            int(tokens.prompt),
            int(tokens.completion),
        ],
    )
    .await
}

/// What the admission read gives.
struct Row {
    used_today: i64,
    used_month: i64,
    key_today: i64,
    day_limit: Option<i64>,
    month_limit: Option<i64>,
    key_limit: Option<i64>,
    rl_count: Option<i64>,
    rl_start: Option<i64>,
    running: i64,
}

crate::from_columns!(Row {
    used_today,
    used_month,
    key_today,
    day_limit,
    month_limit,
    key_limit,
    rl_count,
    rl_start,
    running
});

async fn read(
    db: &Db,
    caller: &Principal,
    today: &str,
    rate_key: &str,
    running_since: Option<&str>,
) -> Result<Row, Error> {
    db.query_opt::<Row>(
        chat_store::usage::STANDING,
        vec![
            Value::Text(caller.user_id.clone()),
            Value::Text(today.to_string()),
            Value::Text(month_start(today)),
            Value::Text(key_id(caller)),
            Value::Text(rate_key.to_string()),
            running_since.map_or(Value::Null, |t| Value::Text(t.to_string())),
        ],
    )
    .await?
    .ok_or_else(|| Error::internal("the standing read gave no row"))
}

fn standing<'a>(row: &Row, defaults: DefaultQuota, today: &'a str) -> Standing<'a> {
    let used = |n: i64| u64::try_from(n).unwrap_or(0);
    Standing {
        limits: Limits {
            per_day: effective(row.day_limit, defaults.per_day),
            per_month: effective(row.month_limit, defaults.per_month),
            key_per_day: effective(row.key_limit, None),
        },
        used: Used {
            today: used(row.used_today),
            this_month: used(row.used_month),
            key_today: used(row.key_today),
        },
        today,
    }
}

/// What the admission read found.
#[derive(Debug, Default)]
pub struct Admitted {
    /// Where the caller stands with the rate limit the route left to its handler.
    pub quota: Option<Quota>,
    /// The caller's running answers (with `running_since`; else 0).
    pub running: i64,
}

/// Where the caller stands before Ollama is asked, in one read: the rate limit the route left
/// to its handler (`pending`), then the quotas (`429 QUOTA_EXCEEDED`, counted in the refusal
/// metric), and with `running_since` the caller's answers whose heartbeat is newer (for a
/// route with no read of its own to count them in). A read that fails lets the request
/// through (the writes that follow still count and limit it).
pub async fn admit(
    db: &Db,
    pending: Option<&Pending>,
    caller: &Principal,
    defaults: DefaultQuota,
    running_since: Option<&str>,
) -> Result<Admitted, Error> {
    let now = crate::time::now_rfc3339();
    let today = day_of(&now);
    let rate_key = pending.map_or("", |p| p.key());
    let row = match read(db, caller, today, rate_key, running_since).await {
        Ok(row) => row,
        Err(e) => {
            log::warn("quota and rate limit not checked", e.causes());
            return Ok(Admitted::default());
        }
    };
    let quota = match pending {
        Some(p) => p.judge(row.rl_count.zip(row.rl_start))?,
        None => None,
    };
    let now_unix = crate::time::to_unix(&now).unwrap_or(0);
    if let Err((which, e)) = standing(&row, defaults, today).check(now_unix) {
        let labels = crate::metrics::labels(&[("limit", which.as_str())]);
        metrics::add(crate::metrics::QUOTA_REFUSALS, labels, 1.0);
        return Err(e);
    }
    Ok(Admitted {
        quota,
        running: row.running,
    })
}

/// The caller's `quota` for usage responses.
pub async fn view(
    db: &Db,
    caller: &Principal,
    defaults: DefaultQuota,
) -> Result<crate::usage::QuotaView, Error> {
    let now = crate::time::now_rfc3339();
    let today = day_of(&now);
    let row = read(db, caller, today, "", None).await?;
    Ok(standing(&row, defaults, today).view())
}
