//! Rate limits: which class a request falls in, whose budget it spends, and the headers that
//! tell the client where it stands. Counting itself is one atomic upsert in the shared store
//! (`spin::ratelimit`), so every instance and replica sees the same counters.
//!
//! - `auth`: the credential routes (register, login, refresh), per client IP.
//! - `chat`: asking the model (send, regenerate), per user or API key.
//! - `general`: every other route, per user or API key when signed in, else per IP.
//!
//! Probes (`/health`, `/health/ready`) and CORS preflights are never limited.

use crate::auth::principal::{Credential, Principal};
use crate::error::{Error, ErrorCode};
use http::{HeaderName, Method};

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

impl Default for Limits {
    fn default() -> Self {
        Self {
            auth: 30,
            chat: 30,
            general: 600,
            window_seconds: 60,
        }
    }
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

/// The class of a request, or `None` for what is never limited.
pub fn classify(method: &Method, path: &str) -> Option<Class> {
    if method == Method::OPTIONS || matches!(path, "/health" | "/health/ready") {
        return None;
    }
    if method == Method::POST
        && matches!(
            path,
            "/api/auth/register" | "/api/auth/login" | "/api/auth/refresh"
        )
    {
        return Some(Class::Auth);
    }
    if method == Method::POST
        && let Some(rest) = path.strip_prefix("/api/chat/")
        && (rest.ends_with("/messages") || rest.ends_with("/regenerate"))
    {
        return Some(Class::Chat);
    }
    Some(Class::General)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::principal::Role;

    #[test]
    fn routes_fall_in_their_class() {
        let table = [
            (Method::POST, "/api/auth/login", Some(Class::Auth)),
            (Method::POST, "/api/auth/register", Some(Class::Auth)),
            (Method::POST, "/api/auth/refresh", Some(Class::Auth)),
            (Method::POST, "/api/auth/logout", Some(Class::General)),
            (Method::GET, "/api/auth/me", Some(Class::General)),
            (Method::POST, "/api/chat/abc/messages", Some(Class::Chat)),
            (Method::POST, "/api/chat/abc/regenerate", Some(Class::Chat)),
            (Method::POST, "/api/chat/abc/stop", Some(Class::General)),
            (Method::GET, "/api/conversations", Some(Class::General)),
            (Method::GET, "/metrics", Some(Class::General)),
            (Method::GET, "/nowhere", Some(Class::General)),
            (Method::GET, "/health", None),
            (Method::GET, "/health/ready", None),
            (Method::OPTIONS, "/api/auth/login", None),
        ];
        for (method, path, class) in table {
            assert_eq!(classify(&method, path), class, "{method} {path}");
        }
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
