//! The app's one error type and the contract's error envelope.
//!
//! Every failure a client can see is an [`Error`] variant with a stable machine-readable
//! [`ErrorCode`] (pinned by tests) and an HTTP status. Internal causes are logged by the
//! adapter with the request id and never sent: the client gets the code and a plain sentence.

use http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};

/// The error codes of API.md. The string form is part of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    InvalidJson,
    ValidationError,
    UnsupportedMediaType,
    PayloadTooLarge,
    Unauthenticated,
    InvalidCredentials,
    Forbidden,
    AccountPending,
    AccountDisabled,
    SignupDisabled,
    UsernameTaken,
    WeakPassword,
    NotFound,
    MethodNotAllowed,
    Conflict,
    RateLimited,
    QuotaExceeded,
    ModelNotFound,
    OllamaUnavailable,
    UpstreamError,
    UpstreamTimeout,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 22] = [
        Self::InvalidJson,
        Self::ValidationError,
        Self::UnsupportedMediaType,
        Self::PayloadTooLarge,
        Self::Unauthenticated,
        Self::InvalidCredentials,
        Self::Forbidden,
        Self::AccountPending,
        Self::AccountDisabled,
        Self::SignupDisabled,
        Self::UsernameTaken,
        Self::WeakPassword,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Conflict,
        Self::RateLimited,
        Self::QuotaExceeded,
        Self::ModelNotFound,
        Self::OllamaUnavailable,
        Self::UpstreamError,
        Self::UpstreamTimeout,
        Self::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidJson => "INVALID_JSON",
            Self::ValidationError => "VALIDATION_ERROR",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::Forbidden => "FORBIDDEN",
            Self::AccountPending => "ACCOUNT_PENDING",
            Self::AccountDisabled => "ACCOUNT_DISABLED",
            Self::SignupDisabled => "SIGNUP_DISABLED",
            Self::UsernameTaken => "USERNAME_TAKEN",
            Self::WeakPassword => "WEAK_PASSWORD",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::Conflict => "CONFLICT",
            Self::RateLimited => "RATE_LIMITED",
            Self::QuotaExceeded => "QUOTA_EXCEEDED",
            Self::ModelNotFound => "MODEL_NOT_FOUND",
            Self::OllamaUnavailable => "OLLAMA_UNAVAILABLE",
            Self::UpstreamError => "UPSTREAM_ERROR",
            Self::UpstreamTimeout => "UPSTREAM_TIMEOUT",
            Self::Internal => "INTERNAL",
        }
    }

    /// The status each code is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidJson | Self::ValidationError | Self::WeakPassword => {
                StatusCode::BAD_REQUEST
            }
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthenticated | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::Forbidden
            | Self::AccountPending
            | Self::AccountDisabled
            | Self::SignupDisabled => StatusCode::FORBIDDEN,
            Self::NotFound | Self::ModelNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::UsernameTaken | Self::Conflict => StatusCode::CONFLICT,
            Self::RateLimited | Self::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
            Self::OllamaUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamError => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A failure answered to the client. Build one with a constructor, add [`Error::detail`]s.
#[derive(Debug, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct Error {
    code: ErrorCode,
    message: String,
    details: Map<String, Value>,
    /// What went wrong inside, outermost first (logged, never sent).
    internal: Vec<String>,
    headers: Vec<(http::HeaderName, String)>,
    /// A status other than the code's (`503` for [`Error::unavailable`]).
    status: Option<StatusCode>,
}

/// `Result` with the app's [`Error`] by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Map::new(),
            internal: Vec::new(),
            headers: Vec::new(),
            status: None,
        }
    }

    /// 500 `INTERNAL`: the cause is kept for the log; the client sees a fixed sentence.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(ErrorCode::Internal, "Something went wrong on our side.");
        e.internal = vec![cause.to_string()];
        e
    }

    /// `503` with the `INTERNAL` code and `retry-after`: a store the app needs (the key-value
    /// store, the database) did not answer in time. The contract has no code of its own for
    /// it; the status says "try again", the cause is logged.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            ErrorCode::Internal,
            "A store the app needs is not answering. Try again shortly.",
        )
        .header(http::header::RETRY_AFTER, "2");
        e.internal = vec![cause.to_string()];
        e.status = Some(StatusCode::SERVICE_UNAVAILABLE);
        e
    }

    /// 400 `VALIDATION_ERROR` naming the offending field in `details.field`.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationError, message).detail("field", field.into())
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found."))
    }

    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }

    /// Places a validation error inside a larger document: `details.field` `title` becomes
    /// `conversations[3].title`.
    pub fn within(mut self, prefix: &str) -> Self {
        if let Some(Value::String(f)) = self.details.get("field") {
            let field = if f.is_empty() {
                prefix.to_string()
            } else {
                format!("{prefix}.{f}")
            };
            self.details.insert("field".into(), Value::from(field));
        }
        self
    }

    /// Attaches an internal cause (logged, never sent) to any error, in place of any other.
    pub fn with_cause(mut self, cause: impl std::fmt::Display) -> Self {
        self.internal = vec![cause.to_string()];
        self
    }

    /// Takes `other`'s internal causes (an error answered in other words).
    pub fn with_causes_of(mut self, other: &Error) -> Self {
        self.internal = other.internal.clone();
        self
    }

    /// Adds what caused the last cause: `Error::internal("reading rows").because(e)`.
    pub fn because(mut self, cause: impl std::fmt::Display) -> Self {
        self.internal.push(cause.to_string());
        self
    }

    /// Adds `source` and the chain of its own sources.
    pub fn because_of(mut self, source: &(dyn std::error::Error + 'static)) -> Self {
        let mut next = Some(source);
        while let Some(e) = next {
            self.internal.push(e.to_string());
            next = e.source();
        }
        self
    }

    /// A header to send with the error (e.g. `allow`, `retry-after`).
    pub fn header(mut self, name: http::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or_else(|| self.code.status())
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn details(&self) -> &Map<String, Value> {
        &self.details
    }

    /// The internal causes, outermost first (empty when there are none).
    pub fn causes(&self) -> &[String] {
        &self.internal
    }

    /// The causes as one line (`outer: inner`), or `None`.
    pub fn internal_cause(&self) -> Option<String> {
        (!self.internal.is_empty()).then(|| self.internal.join(": "))
    }

    pub fn headers(&self) -> &[(http::HeaderName, String)] {
        &self.headers
    }

    /// The envelope: `{"error": {"code", "message", "details"?}, "request_id"}`.
    pub fn envelope(&self, request_id: &str) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), Value::from(self.code.as_str()));
        error.insert("message".into(), Value::from(self.message.clone()));
        if !self.details.is_empty() {
            error.insert("details".into(), Value::Object(self.details.clone()));
        }
        let mut body = Map::new();
        body.insert("error".into(), Value::Object(error));
        body.insert("request_id".into(), Value::from(request_id));
        Value::Object(body)
    }
}

impl From<ErrorCode> for Error {
    fn from(code: ErrorCode) -> Self {
        let message = match code {
            ErrorCode::NotFound => "Not found.",
            ErrorCode::MethodNotAllowed => "This method is not allowed on this route.",
            ErrorCode::Unauthenticated => "Authentication required.",
            ErrorCode::Forbidden => "You may not do this.",
            ErrorCode::Internal => "Something went wrong on our side.",
            _ => "Request failed.",
        };
        Self::new(code, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_the_contract_spells_them() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap_or_default();
            assert_eq!(json, Value::from(code.as_str()));
        }
        assert_eq!(ErrorCode::ALL.len(), 22);
    }

    #[test]
    fn statuses_match_the_contract() {
        let table = [
            (ErrorCode::InvalidJson, 400),
            (ErrorCode::ValidationError, 400),
            (ErrorCode::WeakPassword, 400),
            (ErrorCode::UnsupportedMediaType, 415),
            (ErrorCode::PayloadTooLarge, 413),
            (ErrorCode::Unauthenticated, 401),
            (ErrorCode::InvalidCredentials, 401),
            (ErrorCode::Forbidden, 403),
            (ErrorCode::AccountPending, 403),
            (ErrorCode::AccountDisabled, 403),
            (ErrorCode::SignupDisabled, 403),
            (ErrorCode::UsernameTaken, 409),
            (ErrorCode::Conflict, 409),
            (ErrorCode::NotFound, 404),
            (ErrorCode::ModelNotFound, 404),
            (ErrorCode::MethodNotAllowed, 405),
            (ErrorCode::RateLimited, 429),
            (ErrorCode::QuotaExceeded, 429),
            (ErrorCode::OllamaUnavailable, 503),
            (ErrorCode::UpstreamError, 502),
            (ErrorCode::UpstreamTimeout, 504),
            (ErrorCode::Internal, 500),
        ];
        for (code, status) in table {
            assert_eq!(code.status().as_u16(), status, "{code:?}");
        }
    }

    #[test]
    fn causes_stay_in_order_and_whole() {
        #[derive(Debug, thiserror::Error)]
        #[error("disk I/O error: short read")]
        struct Io;
        #[derive(Debug, thiserror::Error)]
        #[error("reading page 7")]
        struct Page(#[source] Io);
        let e = Error::internal("loading history").because_of(&Page(Io));
        assert_eq!(
            e.causes(),
            [
                "loading history",
                "reading page 7",
                "disk I/O error: short read"
            ]
        );
        let answered = Error::new(ErrorCode::Internal, "Try again.").with_causes_of(&e);
        assert_eq!(answered.causes(), e.causes());
        assert!(Error::from(ErrorCode::NotFound).causes().is_empty());
    }

    #[test]
    fn internal_cause_never_reaches_the_envelope() {
        let e = Error::internal("SELECT * FROM users: disk I/O error at /var/db/app.db");
        let body = e.envelope("req-1").to_string();
        assert!(!body.contains("SELECT"));
        assert!(!body.contains("/var/db"));
        assert!(body.contains("\"INTERNAL\""));
        assert!(body.contains("\"request_id\":\"req-1\""));
        assert_eq!(e.internal_cause().map(|c| c.contains("disk")), Some(true));
    }

    #[test]
    fn details_are_sent_only_when_present() {
        let plain = Error::from(ErrorCode::NotFound).envelope("r");
        assert!(plain["error"].get("details").is_none());
        let with = Error::validation("title", "Too long.").envelope("r");
        assert_eq!(with["error"]["details"]["field"], "title");
    }

    #[test]
    fn a_store_not_answering_is_503_with_retry_after_and_no_cause_sent() {
        let e = Error::unavailable("key-value get: redis://secret@host refused");
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.code(), ErrorCode::Internal);
        assert!(
            e.headers()
                .iter()
                .any(|(h, v)| h == http::header::RETRY_AFTER && v == "2")
        );
        let body = e.envelope("r1").to_string();
        assert!(
            !body.contains("secret") && !body.contains("redis"),
            "{body}"
        );
    }
}
