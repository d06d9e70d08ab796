//! What an answer cost, as counted for usage and quotas (table `usage`, migration 0008).

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

#[cfg(test)]
mod tests {
    #[test]
    fn the_day_is_the_date_part() {
        assert_eq!(super::day_of("2026-12-05T00:30:00Z"), "2026-12-05");
    }
}
