//! Times as the API shows them and the database stores them: RFC 3339 UTC with exactly three
//! fractional digits (`2026-11-23T01:23:23.488Z`), so they also sort correctly as text.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn format(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

pub fn now_rfc3339() -> String {
    format(SystemTime::now())
}

/// `now + secs` (or minus, for negative `secs`).
pub fn from_now(secs: i64) -> String {
    let now = SystemTime::now();
    let t = if secs >= 0 {
        now + Duration::from_secs(secs as u64)
    } else {
        now - Duration::from_secs(secs.unsigned_abs())
    };
    format(t)
}

pub fn from_unix(secs: i64) -> String {
    format(UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64))
}

pub fn parse(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339(s).ok()
}

pub fn to_unix(s: &str) -> Option<i64> {
    parse(s)?
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs() as i64)
}

/// Whole seconds from `earlier` to `later` (negative if `later` is before), if both parse.
pub fn seconds_between(earlier: &str, later: &str) -> Option<i64> {
    Some(to_unix(later)? - to_unix(earlier)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_precision_sorts_as_text() {
        let a = from_unix(1_800_000_000);
        assert_eq!(a, "2027-01-15T08:00:00.000Z");
        let b = from_unix(1_800_000_001);
        assert!(a < b);
        assert_eq!(seconds_between(&a, &b), Some(1));
        assert_eq!(to_unix(&a), Some(1_800_000_000));
        assert!(now_rfc3339().ends_with('Z'));
        assert!(from_now(60) > now_rfc3339());
    }
}
