//! The app's [`Error`] in OpenAI's error shape, which the SDKs map to their exception classes
//! by status: `{"error": {"message", "type", "param", "code"}}`.

use crate::error::{Error, ErrorCode};
use serde_json::{Value, json};

/// OpenAI's `type` and `code` for one of the app's codes.
fn kind(code: ErrorCode) -> (&'static str, Option<&'static str>) {
    use ErrorCode::*;
    match code {
        Unauthenticated | InvalidCredentials => ("authentication_error", Some("invalid_api_key")),
        Forbidden | AccountPending | AccountDisabled | SignupDisabled => ("permission_error", None),
        NotFound => ("not_found_error", None),
        ModelNotFound => ("not_found_error", Some("model_not_found")),
        RateLimited => ("rate_limit_error", Some("rate_limit_exceeded")),
        QuotaExceeded => ("rate_limit_error", Some("insufficient_quota")),
        OllamaUnavailable | UpstreamError | UpstreamTimeout | Internal => ("api_error", None),
        InvalidJson | ValidationError | UnsupportedMediaType | PayloadTooLarge | WeakPassword
        | UsernameTaken | MethodNotAllowed | Conflict => ("invalid_request_error", None),
    }
}

/// The body of `e` on `/v1`: `param` is the offending field, if the error names one; `code`
/// OpenAI's where it has one, else the app's in lower case (`upstream_timeout`).
pub fn body(e: &Error) -> Value {
    let (kind, code) = kind(e.code());
    let code = code.map_or_else(|| e.code().as_str().to_ascii_lowercase(), str::to_string);
    json!({
        "error": {
            "message": e.message(),
            "type": kind,
            "param": e.details().get("field").cloned().unwrap_or(Value::Null),
            "code": code,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_gets_the_type_the_sdks_map_it_by() {
        let table = [
            (ErrorCode::ValidationError, "invalid_request_error", 400),
            (ErrorCode::InvalidJson, "invalid_request_error", 400),
            (ErrorCode::PayloadTooLarge, "invalid_request_error", 413),
            (ErrorCode::Unauthenticated, "authentication_error", 401),
            (ErrorCode::Forbidden, "permission_error", 403),
            (ErrorCode::NotFound, "not_found_error", 404),
            (ErrorCode::ModelNotFound, "not_found_error", 404),
            (ErrorCode::RateLimited, "rate_limit_error", 429),
            (ErrorCode::OllamaUnavailable, "api_error", 503),
            (ErrorCode::UpstreamTimeout, "api_error", 504),
            (ErrorCode::Internal, "api_error", 500),
        ];
        for (code, kind, status) in table {
            let b = body(&Error::from(code));
            assert_eq!(b["error"]["type"], kind, "{code:?}");
            assert_eq!(code.status().as_u16(), status);
        }
    }

    #[test]
    fn codes_and_params_are_openais() {
        let key = body(&Error::from(ErrorCode::Unauthenticated));
        assert_eq!(key["error"]["code"], "invalid_api_key");
        assert_eq!(key["error"]["param"], Value::Null);
        let limited = body(&Error::from(ErrorCode::RateLimited));
        assert_eq!(limited["error"]["code"], "rate_limit_exceeded");
        let spent = body(&Error::from(ErrorCode::QuotaExceeded));
        assert_eq!(spent["error"]["type"], "rate_limit_error");
        assert_eq!(spent["error"]["code"], "insufficient_quota");
        let field = body(&Error::validation("messages[0].role", "Unknown role."));
        assert_eq!(field["error"]["param"], "messages[0].role");
        assert_eq!(field["error"]["message"], "Unknown role.");
        assert_eq!(field["error"]["code"], "validation_error");
        let hidden = body(&Error::internal("SELECT * FROM users at /var/db"));
        assert!(!hidden.to_string().contains("SELECT"));
        assert!(hidden.get("request_id").is_none());
    }
}
