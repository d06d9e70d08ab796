//! Usage and quotas without Spin: what an answer cost, the UTC days and months usage is kept
//! by (table `usage`, migration 0008), and whether a caller is over a token quota (the user's
//! per day and per month, the API key's per day). A quota counts prompt and completion tokens
//! together. See API.md, "Usage and quotas".

use crate::error::{Error, ErrorCode};
use serde::Serialize;

/// Tokens one answer cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tokens {
    pub prompt: u64,
    pub completion: u64,
}

/// The UTC day of an RFC 3339 time, as `usage.day` keeps it (`YYYY-MM-DD`).
pub fn day_of(rfc3339: &str) -> &str {
    rfc3339.get(..10).unwrap_or(rfc3339)
}

/// Unix seconds at the start of `day` (`YYYY-MM-DD`).
fn day_start(day: &str) -> Option<i64> {
    crate::time::to_unix(&format!("{day}T00:00:00Z"))
}

/// `day` moved by `n` days.
pub fn add_days(day: &str, n: i64) -> Option<String> {
    let secs = day_start(day)? + n * 86_400;
    Some(day_of(&crate::time::from_unix(secs)).to_string())
}

/// Whether `s` is a real date `YYYY-MM-DD`.
pub fn is_day(s: &str) -> bool {
    s.len() == 10 && day_start(s).is_some()
}

/// The first day of `day`'s month.
pub fn month_start(day: &str) -> String {
    format!("{}-01", day.get(..7).unwrap_or(day))
}

/// The first day of the month after `day`'s.
pub fn next_month(day: &str) -> Option<String> {
    let year: i64 = day.get(..4)?.parse().ok()?;
    let month: i64 = day.get(5..7)?.parse().ok()?;
    Some(if month == 12 {
        format!("{:04}-01-01", year + 1)
    } else {
        format!("{year:04}-{:02}-01", month + 1)
    })
}

/// Token limits of the `quota_tokens_per_day` / `quota_tokens_per_month` variables (`0`: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DefaultQuota {
    pub per_day: Option<u64>,
    pub per_month: Option<u64>,
}

impl DefaultQuota {
    pub fn new(per_day: u64, per_month: u64) -> Self {
        Self {
            per_day: (per_day > 0).then_some(per_day),
            per_month: (per_month > 0).then_some(per_month),
        }
    }
}

/// A limit as stored for a user or key: `NULL` takes the default, `0` is none.
pub fn effective(stored: Option<i64>, default: Option<u64>) -> Option<u64> {
    match stored {
        None => default,
        Some(n) if n <= 0 => None,
        Some(n) => u64::try_from(n).ok(),
    }
}

/// Which limits apply to a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    pub per_day: Option<u64>,
    pub per_month: Option<u64>,
    /// The API key's own daily budget, when called with a key that has one.
    pub key_per_day: Option<u64>,
}

/// Tokens used so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Used {
    pub today: u64,
    pub this_month: u64,
    pub key_today: u64,
}

/// Which quota a refusal names (the `limit` label of the refusal metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    Day,
    Month,
    Key,
}

impl Spent {
    pub fn as_str(self) -> &'static str {
        match self {
            Spent::Day => "day",
            Spent::Month => "month",
            Spent::Key => "key",
        }
    }
}

/// `quota` in usage responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaView {
    pub tokens_per_day: Option<u64>,
    pub tokens_per_month: Option<u64>,
    pub used_today: u64,
    pub used_this_month: u64,
    /// When the nearer limit starts afresh: next UTC midnight with a daily limit, else the
    /// next month with a monthly one; `null` without limits.
    pub resets_at: Option<String>,
}

/// A caller's standing on `today` (UTC `YYYY-MM-DD`).
#[derive(Debug, Clone, Copy)]
pub struct Standing<'a> {
    pub limits: Limits,
    pub used: Used,
    pub today: &'a str,
}

impl Standing<'_> {
    fn next_midnight(&self) -> String {
        add_days(self.today, 1).unwrap_or_default() + "T00:00:00Z"
    }

    fn next_month(&self) -> String {
        next_month(self.today).unwrap_or_default() + "T00:00:00Z"
    }

    /// The first quota that is spent, if any (the key's, then the day's, then the month's).
    pub fn spent(&self) -> Option<(Spent, u64, u64)> {
        let (l, u) = (self.limits, self.used);
        [
            (Spent::Key, l.key_per_day, u.key_today),
            (Spent::Day, l.per_day, u.today),
            (Spent::Month, l.per_month, u.this_month),
        ]
        .into_iter()
        .find_map(|(which, limit, used)| limit.filter(|l| used >= *l).map(|l| (which, l, used)))
    }

    /// `429 QUOTA_EXCEEDED` with `details: {limit, used, resets_at}` and `retry-after` when a
    /// quota is spent; `now` is Unix seconds.
    pub fn check(&self, now: i64) -> Result<(), (Spent, Error)> {
        let Some((which, limit, used)) = self.spent() else {
            return Ok(());
        };
        let (what, resets_at) = match which {
            Spent::Key => ("This API key's daily token budget", self.next_midnight()),
            Spent::Day => ("Your daily token quota", self.next_midnight()),
            Spent::Month => ("Your monthly token quota", self.next_month()),
        };
        let wait = crate::time::to_unix(&resets_at).map_or(60, |t| (t - now).max(1));
        let e = Error::new(
            ErrorCode::QuotaExceeded,
            format!("{what} is used up ({used} of {limit} tokens); it resets at {resets_at}."),
        )
        .detail("limit", limit)
        .detail("used", used)
        .detail("resets_at", resets_at)
        .header(http::header::RETRY_AFTER, wait.to_string());
        Err((which, e))
    }

    pub fn view(&self) -> QuotaView {
        let l = self.limits;
        let resets_at = if l.per_day.is_some() {
            Some(self.next_midnight())
        } else {
            l.per_month.map(|_| self.next_month())
        };
        QuotaView {
            tokens_per_day: l.per_day,
            tokens_per_month: l.per_month,
            used_today: self.used.today,
            used_this_month: self.used.this_month,
            resets_at,
        }
    }
}

/// How a usage report groups its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Day,
    Model,
    Key,
    User,
}

impl GroupBy {
    /// The `usage` column grouped by, which is also the item's field.
    pub fn column(self) -> &'static str {
        match self {
            GroupBy::Day => "day",
            GroupBy::Model => "model",
            GroupBy::Key => "key_id",
            GroupBy::User => "user_id",
        }
    }

    fn name(self) -> &'static str {
        match self {
            GroupBy::Key => "key",
            GroupBy::User => "user",
            other => other.column(),
        }
    }

    /// `?group_by=`, one of `allowed` (the first when absent).
    pub fn parse(raw: Option<&str>, allowed: &[GroupBy]) -> Result<GroupBy, Error> {
        let Some(raw) = raw else {
            return allowed
                .first()
                .copied()
                .ok_or_else(|| Error::internal("no grouping allowed"));
        };
        allowed
            .iter()
            .copied()
            .find(|g| g.name() == raw)
            .ok_or_else(|| {
                let names: Vec<&str> = allowed.iter().map(|g| g.name()).collect();
                Error::validation(
                    "group_by",
                    format!("`group_by` is one of {}.", names.join(", ")),
                )
            })
    }
}

/// The days a report covers, both included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Days {
    pub from: String,
    pub to: String,
}

/// The longest report, in days.
pub const MAX_DAYS: i64 = 366;

impl Days {
    /// `?from&to` (UTC dates): by default the 30 days up to `today`.
    pub fn parse(from: Option<&str>, to: Option<&str>, today: &str) -> Result<Days, Error> {
        let date = |field: &str, v: &str| {
            if is_day(v) {
                Ok(v.to_string())
            } else {
                Err(Error::validation(
                    field,
                    format!("`{field}` is a date, YYYY-MM-DD."),
                ))
            }
        };
        let to = match to {
            Some(t) => date("to", t)?,
            None => today.to_string(),
        };
        let from = match from {
            Some(f) => date("from", f)?,
            None => add_days(&to, -29).unwrap_or_else(|| to.clone()),
        };
        let span = day_start(&to)
            .zip(day_start(&from))
            .map(|(t, f)| (t - f) / 86_400);
        match span {
            Some(n) if n < 0 => Err(Error::validation("from", "`from` must not be after `to`.")),
            Some(n) if n >= MAX_DAYS => Err(Error::validation(
                "from",
                format!("A report covers at most {MAX_DAYS} days."),
            )),
            _ => Ok(Days { from, to }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_months_roll_over() {
        assert_eq!(day_of("2026-12-05T00:30:00Z"), "2026-12-05");
        assert_eq!(add_days("2026-12-31", 1).as_deref(), Some("2027-01-01"));
        assert_eq!(add_days("2024-03-01", -1).as_deref(), Some("2024-02-29"));
        assert_eq!(month_start("2026-12-05"), "2026-12-01");
        assert_eq!(next_month("2026-12-05").as_deref(), Some("2027-01-01"));
        assert_eq!(next_month("2026-02-15").as_deref(), Some("2026-03-01"));
        assert!(is_day("2026-02-28") && !is_day("2026-02-30") && !is_day("2026-2-3"));
    }

    #[test]
    fn report_queries_are_checked() {
        let today = "2026-12-05";
        let d = Days::parse(None, None, today).expect("defaults");
        assert_eq!(
            (d.from.as_str(), d.to.as_str()),
            ("2026-11-06", "2026-12-05")
        );
        let d = Days::parse(Some("2026-01-01"), Some("2026-01-31"), today).expect("valid");
        assert_eq!(d.from, "2026-01-01");
        for (from, to, field) in [
            (Some("2026-13-01"), None, "from"),
            (None, Some("yesterday"), "to"),
            (Some("2026-12-06"), Some("2026-12-05"), "from"),
            (Some("2020-01-01"), Some("2026-01-01"), "from"),
        ] {
            let e = Days::parse(from, to, today).expect_err("invalid");
            assert_eq!(e.details()["field"], field);
        }
        let mine = [GroupBy::Day, GroupBy::Model, GroupBy::Key];
        assert_eq!(GroupBy::parse(None, &mine).ok(), Some(GroupBy::Day));
        assert_eq!(GroupBy::parse(Some("key"), &mine).ok(), Some(GroupBy::Key));
        assert!(GroupBy::parse(Some("user"), &mine).is_err());
        assert!(GroupBy::parse(Some("key_id"), &mine).is_err());
    }

    #[test]
    fn stored_limits_override_the_defaults() {
        let d = DefaultQuota::new(1000, 0);
        assert_eq!(d.per_month, None);
        assert_eq!(effective(None, d.per_day), Some(1000));
        assert_eq!(effective(Some(0), d.per_day), None);
        assert_eq!(effective(Some(50), d.per_day), Some(50));
    }

    fn standing(limits: Limits, used: Used) -> Standing<'static> {
        Standing {
            limits,
            used,
            today: "2026-12-05",
        }
    }

    #[test]
    fn a_spent_quota_is_a_429_saying_when_it_resets() {
        let now = crate::time::to_unix("2026-12-05T23:00:00Z").unwrap_or(0);
        let limits = Limits {
            per_day: Some(100),
            per_month: Some(1000),
            key_per_day: Some(10),
        };
        let room = Used {
            today: 99,
            this_month: 999,
            key_today: 9,
        };
        assert!(standing(limits, room).check(now).is_ok());
        let key_spent = Used {
            key_today: 10,
            ..room
        };
        let Err((which, e)) = standing(limits, key_spent).check(now) else {
            panic!("not refused")
        };
        assert_eq!(which, Spent::Key);
        assert_eq!(e.code(), ErrorCode::QuotaExceeded);
        assert_eq!(e.status().as_u16(), 429);
        assert_eq!(e.details()["limit"], 10);
        assert_eq!(e.details()["used"], 10);
        assert_eq!(e.details()["resets_at"], "2026-12-06T00:00:00Z");
        assert!(
            e.headers()
                .iter()
                .any(|(n, v)| n == "retry-after" && v == "3600")
        );
        let month = Used {
            this_month: 1000,
            ..room
        };
        let Err((which, e)) = standing(limits, month).check(now) else {
            panic!("not refused")
        };
        assert_eq!(which, Spent::Month);
        assert_eq!(e.details()["resets_at"], "2027-01-01T00:00:00Z");
        let none = Limits::default();
        assert!(
            standing(
                none,
                Used {
                    today: u64::MAX,
                    ..room
                }
            )
            .check(now)
            .is_ok()
        );
    }

    #[test]
    fn the_view_names_the_nearer_reset() {
        let day = standing(
            Limits {
                per_day: Some(5),
                ..Limits::default()
            },
            Used::default(),
        );
        assert_eq!(
            day.view().resets_at.as_deref(),
            Some("2026-12-06T00:00:00Z")
        );
        let month = standing(
            Limits {
                per_month: Some(5),
                ..Limits::default()
            },
            Used::default(),
        );
        assert_eq!(
            month.view().resets_at.as_deref(),
            Some("2027-01-01T00:00:00Z")
        );
        assert_eq!(
            standing(Limits::default(), Used::default())
                .view()
                .resets_at,
            None
        );
    }
}
