//! What the request pipeline does for a route before its handler runs, declared beside the
//! route where a component builds its router (`spin::routes::Routes`): the rate-limit class,
//! the body limit, the metrics family, whether it opens the database early, and a metric that
//! counts its outcomes. A new route family declares its own; nothing here matches paths.

use crate::config::Config;
use crate::ratelimit::Class;

/// Which of the configured body limits a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLimit {
    /// `body_limit_bytes`.
    Default,
    /// `import_limit_bytes`: the route takes a whole export.
    Import,
}

/// How a route's errors are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStyle {
    /// The contract's envelope: `{"error": {"code", "message", "details"?}, "request_id"}`.
    Envelope,
    /// OpenAI's shape (`/v1`), which its SDKs turn into their exceptions.
    OpenAi,
}

/// A route's policy. [`Policy::new`] is the common case: the `general` rate limit, the default
/// body limit, the database opened early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    family: &'static str,
    limit: Option<Class>,
    body: BodyLimit,
    database: bool,
    outcomes: Option<&'static str>,
    errors: ErrorStyle,
}

impl Policy {
    /// The policy of unknown paths and wrong methods answered by a component's fallback.
    pub const FALLBACK: Policy = Policy::new("other");

    /// The common policy, with `family` as the `family` label of request metrics.
    pub const fn new(family: &'static str) -> Self {
        Self {
            family,
            limit: Some(Class::General),
            body: BodyLimit::Default,
            database: true,
            outcomes: None,
            errors: ErrorStyle::Envelope,
        }
    }

    /// Counts the route in rate-limit class `class` instead of `general`.
    pub const fn limited_as(mut self, class: Class) -> Self {
        self.limit = Some(class);
        self
    }

    /// Never rate limited (probes).
    pub const fn unlimited(mut self) -> Self {
        self.limit = None;
        self
    }

    /// Takes the larger `import_limit_bytes` body.
    pub const fn import_body(mut self) -> Self {
        self.body = BodyLimit::Import;
        self
    }

    /// The route itself touches no table: a new instance does not open a connection ahead
    /// of it (its rate limit, if it has one, opens one when it counts).
    pub const fn without_database(mut self) -> Self {
        self.database = false;
        self
    }

    /// Counts each answer in counter `metric`, labelled `outcome`: `success` or the error
    /// code in lower case (a refusal by the rate limit included).
    pub const fn counting_outcomes(mut self, metric: &'static str) -> Self {
        self.outcomes = Some(metric);
        self
    }

    /// Writes errors in OpenAI's shape (`/v1`).
    pub const fn openai_errors(mut self) -> Self {
        self.errors = ErrorStyle::OpenAi;
        self
    }

    pub fn error_style(&self) -> ErrorStyle {
        self.errors
    }

    pub fn family(&self) -> &'static str {
        self.family
    }

    /// The rate-limit class; `None` for what is never limited (a preflight never is).
    pub fn limit(&self, method: &http::Method) -> Option<Class> {
        self.limit.filter(|_| method != http::Method::OPTIONS)
    }

    /// The largest body accepted, in bytes.
    pub fn body_limit(&self, config: &Config) -> usize {
        match self.body {
            BodyLimit::Default => config.body_limit_bytes,
            BodyLimit::Import => config.import_limit_bytes,
        }
    }

    pub fn opens_database(&self) -> bool {
        self.database
    }

    pub fn outcomes(&self) -> Option<&'static str> {
        self.outcomes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn the_common_policy_is_general_with_the_default_body_and_the_database() {
        let p = Policy::new("conversations");
        assert_eq!(p.family(), "conversations");
        assert_eq!(p.limit(&Method::GET), Some(Class::General));
        assert!(p.opens_database());
        assert_eq!(p.outcomes(), None);
        let config = Config::from_lookup(|name| match name {
            "body_limit_bytes" => Some("10".into()),
            "import_limit_bytes" => Some("20".into()),
            _ => None,
        })
        .expect("valid config");
        assert_eq!(p.body_limit(&config), 10);
        assert_eq!(p.import_body().body_limit(&config), 20);
    }

    #[test]
    fn preflights_and_probes_are_never_limited() {
        let chat = Policy::new("chat").limited_as(Class::Chat);
        assert_eq!(chat.limit(&Method::POST), Some(Class::Chat));
        assert_eq!(chat.limit(&Method::OPTIONS), None);
        let probe = Policy::new("health").unlimited().without_database();
        assert_eq!(probe.limit(&Method::GET), None);
        assert!(!probe.opens_database());
    }

    #[test]
    fn unknown_paths_count_as_general_in_family_other() {
        assert_eq!(Policy::FALLBACK.family(), "other");
        assert_eq!(Policy::FALLBACK.limit(&Method::GET), Some(Class::General));
    }
}
