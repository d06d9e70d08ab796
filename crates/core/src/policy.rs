//! What the request pipeline does for a route before its handler runs, declared beside the
//! route where a component builds its router (`spin::routes::Routes`): the rate-limit class,
//! the body it takes (how large, and of which kind), the metrics family, whether it opens the
//! database early, a metric that counts its outcomes, and the security headers of its answers.
//! A new route family declares its own; nothing here matches paths.

use crate::config::Config;
use crate::error::{Error, ErrorCode};
use crate::ratelimit::Class;
pub use crate::security_headers::ResponseHeaders;

/// The kind of body a route takes. A request with a non-empty body of another kind is
/// `415 UNSUPPORTED_MEDIA_TYPE` before the route runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json`, well formed (`400 INVALID_JSON` otherwise); its shape is the
    /// route's extractor's to check.
    Json,
    /// `multipart/form-data` with its boundary (an upload, as `curl -F` and a browser's
    /// `FormData` send it); its parts are the route's to read.
    Multipart,
}

impl BodyKind {
    /// Whether a body sent with `content_type` is of this kind: `415` naming the kind if not.
    pub fn admits(self, content_type: Option<&str>) -> Result<(), Error> {
        let mut params = content_type.unwrap_or_default().split(';').map(str::trim);
        let mime = params.next().unwrap_or_default();
        let ok = match self {
            Self::Json => crate::json::is_json_content_type(content_type),
            Self::Multipart => {
                mime.eq_ignore_ascii_case("multipart/form-data")
                    && params.any(|p| {
                        p.split_once('=').is_some_and(|(k, v)| {
                            k.trim().eq_ignore_ascii_case("boundary") && !v.trim().is_empty()
                        })
                    })
            }
        };
        if ok {
            return Ok(());
        }
        Err(match self {
            Self::Json => crate::json::unsupported_media_type(),
            Self::Multipart => Error::new(
                ErrorCode::UnsupportedMediaType,
                "Send the body as multipart/form-data (with its boundary), as `curl -F` or a \
                 browser's FormData does.",
            ),
        })
    }
}

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
    kind: BodyKind,
    headers: ResponseHeaders,
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
            kind: BodyKind::Json,
            headers: ResponseHeaders::Api,
        }
    }

    /// Takes a `multipart/form-data` body instead of JSON (uploads).
    pub const fn multipart_body(mut self) -> Self {
        self.kind = BodyKind::Multipart;
        self
    }

    /// Answers with `headers` instead of the API's (a page, or user content served back).
    pub const fn answering_with(mut self, headers: ResponseHeaders) -> Self {
        self.headers = headers;
        self
    }

    /// The kind of body the route takes.
    pub fn body_kind(&self) -> BodyKind {
        self.kind
    }

    /// The security headers of the route's answers.
    pub fn response_headers(&self) -> ResponseHeaders {
        self.headers
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
    fn a_route_takes_json_unless_it_says_multipart() {
        let json = Policy::new("conversations");
        assert_eq!(json.body_kind(), BodyKind::Json);
        assert!(
            json.body_kind()
                .admits(Some("application/json; charset=utf-8"))
                .is_ok()
        );
        let refused = json
            .body_kind()
            .admits(Some("multipart/form-data; boundary=x"));
        assert_eq!(
            refused.map_err(|e| e.code()),
            Err(ErrorCode::UnsupportedMediaType)
        );
        let upload = Policy::new("files").multipart_body();
        let kind = upload.body_kind();
        assert!(
            kind.admits(Some("multipart/form-data; boundary=----x1"))
                .is_ok()
        );
        assert!(
            kind.admits(Some("Multipart/Form-Data;Boundary=abc"))
                .is_ok()
        );
        for bad in [
            None,
            Some("application/json"),
            Some("multipart/form-data"),
            Some("multipart/form-data; boundary="),
            Some("multipart/mixed; boundary=x"),
        ] {
            let e = kind.admits(bad).err().map(|e| e.code());
            assert_eq!(e, Some(ErrorCode::UnsupportedMediaType), "{bad:?}");
        }
    }

    #[test]
    fn a_route_answers_with_the_api_headers_unless_it_says_otherwise() {
        assert_eq!(Policy::new("x").response_headers(), ResponseHeaders::Api);
        let page = Policy::new("web").answering_with(ResponseHeaders::Page);
        assert_eq!(page.response_headers(), ResponseHeaders::Page);
    }

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
