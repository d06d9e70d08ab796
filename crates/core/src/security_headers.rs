//! Headers every response carries (API.md, Conventions), by what the route answers with
//! (its `Policy`): the API's JSON, the web page, or user content served back.

use http::{HeaderMap, HeaderValue, header};

/// Which security headers a route's answers carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseHeaders {
    /// JSON and event streams: nothing in them may load or run anything.
    Api,
    /// The web page and its assets: scripts, styles and images from the app itself only, no
    /// inline script, no framing, forms and `<base>` kept to the app.
    Page,
    /// A user's upload served back: never run or rendered as the app (a sandbox with no
    /// origin), whatever its type claims.
    UserContent,
}

impl ResponseHeaders {
    /// The `content-security-policy` these answers carry.
    pub fn content_security_policy(self) -> &'static str {
        match self {
            Self::Api => "default-src 'none'; frame-ancestors 'none'",
            Self::Page => {
                "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; \
                 form-action 'self'; frame-ancestors 'none'"
            }
            Self::UserContent => "sandbox; default-src 'none'; frame-ancestors 'none'",
        }
    }
}

pub fn apply(headers: &mut HeaderMap, kind: ResponseHeaders) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(kind.content_security_policy()),
    );
    // Responses carry tokens or user data unless a handler chose otherwise.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csp(kind: ResponseHeaders) -> String {
        let mut headers = HeaderMap::new();
        apply(&mut headers, kind);
        assert_eq!(headers["x-content-type-options"], "nosniff");
        headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .map(str::to_string)
            .unwrap_or_default()
    }

    #[test]
    fn each_kind_of_answer_has_its_own_content_security_policy() {
        assert_eq!(
            csp(ResponseHeaders::Api),
            "default-src 'none'; frame-ancestors 'none'"
        );
        let page = csp(ResponseHeaders::Page);
        assert!(page.starts_with("default-src 'self'"), "{page}");
        assert!(!page.contains("unsafe-inline"), "{page}");
        assert!(csp(ResponseHeaders::UserContent).starts_with("sandbox"));
    }

    #[test]
    fn a_handler_may_choose_its_own_caching() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=60"),
        );
        apply(&mut headers, ResponseHeaders::Page);
        assert_eq!(headers[header::CACHE_CONTROL], "max-age=60");
    }
}
