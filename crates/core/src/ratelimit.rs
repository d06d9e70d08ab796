//! Rate limits: which class a request falls in, whose budget it spends, and the headers that
//! tell the client where it stands. Counting itself is an atomic upsert in the shared store
//! (`spin::ratelimit`), so every instance and replica sees the same counters; the `general`
//! class adds blocks of counts that an instance then hands out without a write ([`Leases`]).
//!
//! - `auth`: the credential routes (register, login, refresh), per client IP.
//! - `chat`: asking the model (send, regenerate), per user or API key.
//! - `general`: every other route, per user or API key when signed in, else per IP.
//!
//! Each route declares its class beside its route (`policy`); probes (`/health`,
//! `/health/ready`) and CORS preflights are never limited.

use crate::auth::principal::{Credential, Principal};
use crate::error::{Error, ErrorCode};
use http::HeaderName;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Auth,
    Chat,
    General,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Auth => "auth",
            Class::Chat => "chat",
            Class::General => "general",
        }
    }
}

/// Requests allowed per window for each class; `0` turns a class off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub auth: u32,
    pub chat: u32,
    pub general: u32,
    pub window_seconds: u32,
}

impl Limits {
    pub fn of(&self, class: Class) -> u32 {
        match class {
            Class::Auth => self.auth,
            Class::Chat => self.chat,
            Class::General => self.general,
        }
    }
}

/// Whose budget a request spends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(String),
    ApiKey(String),
    Ip(String),
}

impl Subject {
    /// The user or key of a signed-in caller (the `auth` class always counts the IP).
    pub fn of(class: Class, principal: Option<&Principal>, ip: Option<&str>) -> Self {
        match (class, principal) {
            (Class::Chat | Class::General, Some(p)) => match &p.credential {
                Credential::ApiKey(id) => Subject::ApiKey(id.clone()),
                Credential::Session(_) => Subject::User(p.user_id.clone()),
            },
            _ => Subject::Ip(ip.unwrap_or("unknown").to_string()),
        }
    }

    /// The counter's key in the store. Ids and IPs contain no `:` ambiguity that matters:
    /// the prefix names the kind.
    pub fn key(&self, class: Class) -> String {
        let (kind, id) = match self {
            Subject::User(id) => ("u", id),
            Subject::ApiKey(id) => ("k", id),
            Subject::Ip(ip) => ("ip", ip),
        };
        format!("rl:{}:{kind}:{id}", class.as_str())
    }
}

/// Where a caller stands after one counted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    /// Requests counted in this window, this one included.
    pub used: i64,
    /// Seconds until the window ends (at least 1).
    pub reset: i64,
}

impl Quota {
    /// `count` requests so far in a window that started at `window_start` (unix seconds).
    pub fn new(limit: u32, window_seconds: u32, count: i64, window_start: i64, now: i64) -> Self {
        Self {
            limit,
            used: count,
            reset: (window_start + i64::from(window_seconds) - now).max(1),
        }
    }

    pub fn exceeded(&self) -> bool {
        self.used > i64::from(self.limit)
    }

    /// `Ok(self)` within the limit, else the `429` for `class` ([`Quota::error`]).
    pub fn enforce(self, class: Class) -> Result<Self, Error> {
        if self.exceeded() {
            return Err(self.error(class));
        }
        Ok(self)
    }

    pub fn remaining(&self) -> i64 {
        (i64::from(self.limit) - self.used).max(0)
    }

    /// The first of the headers: a response that has it already says where it stands.
    pub const LIMIT_HEADER: &'static str = "ratelimit-limit";

    /// `ratelimit-limit`, `ratelimit-remaining`, `ratelimit-reset`.
    pub fn headers(&self) -> [(HeaderName, String); 3] {
        [
            (
                HeaderName::from_static(Self::LIMIT_HEADER),
                self.limit.to_string(),
            ),
            (
                HeaderName::from_static("ratelimit-remaining"),
                self.remaining().to_string(),
            ),
            (
                HeaderName::from_static("ratelimit-reset"),
                self.reset.to_string(),
            ),
        ]
    }

    /// The `429` for a caller over the limit of `class`.
    pub fn error(&self, class: Class) -> Error {
        let what = match class {
            Class::Auth => "sign-in requests from this address",
            Class::Chat => "messages to the model",
            Class::General => "requests",
        };
        self.refused(format!("Too many {what}. Try again in {} s.", self.reset))
    }

    /// A `429 RATE_LIMITED` saying `message`, with `retry-after` and the ratelimit headers.
    pub fn refused(&self, message: impl Into<String>) -> Error {
        let mut e = Error::new(ErrorCode::RateLimited, message)
            .detail("retry_after", self.reset)
            .header(http::header::RETRY_AFTER, self.reset.to_string());
        for (name, value) in self.headers() {
            e = e.header(name, value);
        }
        e
    }
}

/// Counts of the `general` class that an instance has added to a shared counter ahead of
/// use, so that most requests count without a write (each write takes SQLite's one write
/// lock: under load that lock, not the work, set the pace). A key's first count in an
/// instance adds 1; each refill adds twice the last block, up to [`max_block`]. Counts left
/// when the window ends or the instance goes are never handed out, so a caller can be
/// refused a little early (up to a block per instance, more while refills race), never let
/// past the limit. Limits under 100 are counted one by one.
#[derive(Debug, Default)]
pub struct Leases {
    by_key: std::collections::HashMap<String, Lease>,
}

#[derive(Debug, Clone, Default)]
struct Lease {
    window_start: i64,
    /// Ranges of counts not yet handed out (`next..=last`), oldest first.
    left: std::collections::VecDeque<(i64, i64)>,
    block: i64,
}

/// The largest block for `limit`: a fiftieth of it, at most 16 (12 for the default 600).
pub fn max_block(limit: u32) -> i64 {
    i64::from(limit / 50).clamp(1, 16)
}

impl Leases {
    /// Keys held at most; past it, all are dropped (their next counts write again).
    const MAX_KEYS: usize = 1024;

    /// The next count under `key` from a block added earlier, as `(count, window_start)`, if
    /// one is left and its window has not ended.
    pub fn take(&mut self, key: &str, window: u32, now: i64) -> Option<(i64, i64)> {
        let lease = self.by_key.get_mut(key)?;
        if lease.window_start + i64::from(window) <= now {
            lease.left.clear();
            return None;
        }
        let (next, last) = lease.left.front_mut()?;
        let count = *next;
        *next += 1;
        if *next > *last {
            lease.left.pop_front();
        }
        Some((count, lease.window_start))
    }

    /// How much the next write for `key` adds: 1 the first time, then twice the last block.
    pub fn next_block(&self, key: &str, limit: u32) -> i64 {
        self.by_key
            .get(key)
            .map_or(1, |l| (l.block * 2).min(max_block(limit)))
    }

    /// A write added `block` to `key`'s counter, which now stands at `count` in the window
    /// from `window_start`: this request takes the block's first count (returned), the rest
    /// are kept for the next requests (after what is left of earlier blocks).
    pub fn grant(&mut self, key: &str, block: i64, count: i64, window_start: i64) -> i64 {
        if self.by_key.len() >= Self::MAX_KEYS && !self.by_key.contains_key(key) {
            self.by_key.clear();
        }
        let lease = self.by_key.entry(key.to_string()).or_default();
        if lease.window_start != window_start {
            lease.left.clear();
            lease.window_start = window_start;
        }
        lease.block = block;
        let first = count - block + 1;
        if first < count {
            lease.left.push_back((first + 1, count));
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::principal::Role;

    #[test]
    fn leases_count_one_by_one_then_in_growing_blocks_within_the_window() {
        let mut leases = Leases::default();
        let (key, limit, window) = ("rl:general:u:a", 600, 60);
        // The first count writes 1 and keeps nothing.
        assert_eq!(leases.take(key, window, 100), None);
        assert_eq!(leases.next_block(key, limit), 1);
        assert_eq!(leases.grant(key, 1, 1, 100), 1);
        assert_eq!(leases.take(key, window, 100), None);
        // Then 2, 4, 8, 12 (the cap for 600), each handed out in order.
        let mut counted = vec![1];
        let mut shared = 1;
        for expected_block in [2, 4, 8, 12, 12] {
            let block = leases.next_block(key, limit);
            assert_eq!(block, expected_block);
            shared += block;
            counted.push(leases.grant(key, block, shared, 100));
            while let Some((c, start)) = leases.take(key, window, 101) {
                assert_eq!(start, 100);
                counted.push(c);
            }
        }
        assert_eq!(
            counted,
            (1..=shared).collect::<Vec<_>>(),
            "each count once, in order"
        );
        // Two refills that raced (both found nothing left): both blocks are handed out.
        let mut raced = Leases::default();
        raced.grant(key, 1, 1, 100);
        assert_eq!(raced.grant(key, 2, 3, 100), 2);
        assert_eq!(raced.grant(key, 2, 5, 100), 4);
        let rest: Vec<i64> =
            std::iter::from_fn(|| raced.take(key, window, 100).map(|t| t.0)).collect();
        assert_eq!(rest, vec![3, 5]);
        // A new window: nothing left to take.
        let block = leases.next_block(key, limit);
        leases.grant(key, block, 30 + block, 100);
        assert_eq!(leases.take(key, window, 160), None);
    }

    #[test]
    fn small_limits_are_counted_one_by_one() {
        let mut leases = Leases::default();
        for limit in [1, 3, 50, 99] {
            assert_eq!(max_block(limit), 1);
            leases.grant("k", 1, 1, 0);
            assert_eq!(leases.next_block("k", limit), 1);
            assert_eq!(leases.take("k", 60, 1), None);
        }
        assert_eq!(max_block(600), 12);
        assert_eq!(max_block(100_000), 16);
    }

    #[test]
    fn subjects_are_users_keys_or_addresses() {
        let session = Principal {
            user_id: "u1".into(),
            role: Role::User,
            credential: Credential::Session("s".into()),
        };
        let key = Principal {
            credential: Credential::ApiKey("k1".into()),
            ..session.clone()
        };
        let ip = Some("10.0.0.1");
        assert_eq!(
            Subject::of(Class::General, Some(&session), ip).key(Class::General),
            "rl:general:u:u1"
        );
        assert_eq!(
            Subject::of(Class::Chat, Some(&key), ip).key(Class::Chat),
            "rl:chat:k:k1"
        );
        assert_eq!(
            Subject::of(Class::Auth, Some(&session), ip),
            Subject::Ip("10.0.0.1".into())
        );
        assert_eq!(
            Subject::of(Class::General, None, None),
            Subject::Ip("unknown".into())
        );
    }

    #[test]
    fn quota_counts_down_and_reports_the_reset() {
        let q = Quota::new(3, 60, 1, 1_000, 1_010);
        assert_eq!((q.remaining(), q.reset, q.exceeded()), (2, 50, false));
        let q = Quota::new(3, 60, 3, 1_000, 1_059);
        assert_eq!((q.remaining(), q.reset, q.exceeded()), (0, 1, false));
        let q = Quota::new(3, 60, 4, 1_000, 1_059);
        assert!(q.exceeded());
        let e = q.error(Class::General);
        assert_eq!(e.code(), ErrorCode::RateLimited);
        assert!(
            e.headers()
                .iter()
                .any(|(n, v)| n == http::header::RETRY_AFTER && v == "1")
        );
    }
}
