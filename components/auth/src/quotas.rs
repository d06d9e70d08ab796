//! A user's own token quota, set by an admin (table `user_quotas`, migration 0009): `null`
//! returns the user to the defaults (`quota_tokens_per_day` / `quota_tokens_per_month`); in
//! an object, a limit left out takes its default and `0` means no limit.

use chat_core::Error;
use chat_core::json::Patch;
use chat_core::spin::{Db, Value};
use chat_core::usage::{DefaultQuota, effective};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaBody {
    tokens_per_day: Option<i64>,
    tokens_per_month: Option<i64>,
}

/// The limits that apply to a user (`null`: none).
#[derive(Debug, Serialize)]
pub struct QuotaLimits {
    tokens_per_day: Option<u64>,
    tokens_per_month: Option<u64>,
}

struct Stored {
    tokens_per_day: Option<i64>,
    tokens_per_month: Option<i64>,
}

chat_core::from_columns!(Stored {
    tokens_per_day,
    tokens_per_month
});

/// Checks a quota change before anything is written.
pub fn check(patch: &Patch<QuotaBody>) -> Result<(), Error> {
    if let Patch::Value(q) = patch {
        for (field, v) in [
            ("quota.tokens_per_day", q.tokens_per_day),
            ("quota.tokens_per_month", q.tokens_per_month),
        ] {
            if v.is_some_and(|n| n < 0) {
                return Err(Error::validation(
                    field,
                    format!("`{field}` must be 0 (no limit) or more."),
                ));
            }
        }
    }
    Ok(())
}

/// Applies a checked change; takes effect with the user's next question.
pub async fn set(db: &Db, user_id: &str, patch: &Patch<QuotaBody>) -> Result<(), Error> {
    let opt = |v: Option<i64>| v.map_or(Value::Null, Value::Integer);
    match patch {
        Patch::Missing => Ok(()),
        Patch::Null => {
            db.execute(chat_store::quotas::CLEAR, vec![Value::Text(user_id.into())])
                .await
        }
        Patch::Value(q) => {
            db.execute(
                chat_store::quotas::SET,
                vec![
                    Value::Text(user_id.into()),
                    opt(q.tokens_per_day),
                    opt(q.tokens_per_month),
                ],
            )
            .await
        }
    }
}

/// The limits that apply to `user_id` now.
pub async fn limits(db: &Db, user_id: &str, defaults: DefaultQuota) -> Result<QuotaLimits, Error> {
    let stored: Option<Stored> = db
        .query_opt(
            chat_store::quotas::OF_USER,
            vec![Value::Text(user_id.into())],
        )
        .await?;
    Ok(QuotaLimits {
        tokens_per_day: effective(
            stored.as_ref().and_then(|s| s.tokens_per_day),
            defaults.per_day,
        ),
        tokens_per_month: effective(
            stored.as_ref().and_then(|s| s.tokens_per_month),
            defaults.per_month,
        ),
    })
}
