//! CORS for the origins listed in the `cors_origins` variable (comma-separated; empty = none;
//! `*` = any origin, without credentials).

use http::{HeaderMap, HeaderValue, Method, header};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CorsPolicy {
    any: bool,
    origins: Vec<String>,
}

pub const ALLOWED_METHODS: &str = "GET, POST, PATCH, DELETE, OPTIONS";
pub const ALLOWED_HEADERS: &str =
    "authorization, content-type, x-request-id, x-csrf-token, x-auth-mode";
pub const EXPOSED_HEADERS: &str = "x-request-id, ratelimit-limit, ratelimit-remaining, ratelimit-reset, retry-after, content-disposition";

impl CorsPolicy {
    pub fn parse(list: &str) -> Self {
        let mut policy = Self::default();
        for origin in list.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            if origin == "*" {
                policy.any = true;
            } else {
                policy
                    .origins
                    .push(origin.trim_end_matches('/').to_ascii_lowercase());
            }
        }
        policy
    }

    pub fn allows(&self, origin: &str) -> bool {
        self.any || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// Is this a CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)?
    pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS
            && headers.contains_key(header::ORIGIN)
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// Adds the CORS response headers for `origin` if it is allowed; returns whether it was.
    pub fn apply(&self, origin: Option<&str>, preflight: bool, out: &mut HeaderMap) -> bool {
        let Some(origin) = origin.filter(|o| self.allows(o)) else {
            return false;
        };
        let Ok(value) = HeaderValue::from_str(origin) else {
            return false;
        };
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        out.append(header::VARY, HeaderValue::from_static("Origin"));
        if !self.any {
            out.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if preflight {
            out.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOWED_METHODS),
            );
            out.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOWED_HEADERS),
            );
            out.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        } else {
            out.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED_HEADERS),
            );
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_origins_only() {
        let p = CorsPolicy::parse(" https://app.example.com, http://localhost:5173/ ");
        assert!(p.allows("https://app.example.com"));
        assert!(p.allows("http://localhost:5173"));
        assert!(!p.allows("https://evil.example.com"));
        assert!(!CorsPolicy::parse("").allows("https://app.example.com"));
        assert!(CorsPolicy::parse("*").allows("https://anything.test"));
    }

    #[test]
    fn headers_only_for_allowed_origins() {
        let p = CorsPolicy::parse("https://a.test");
        let mut h = HeaderMap::new();
        assert!(!p.apply(Some("https://b.test"), true, &mut h));
        assert!(h.is_empty());
        assert!(p.apply(Some("https://a.test"), true, &mut h));
        assert_eq!(
            h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .map(|v| v.as_bytes()),
            Some(&b"https://a.test"[..])
        );
        assert!(h.contains_key(header::ACCESS_CONTROL_ALLOW_METHODS));
    }
}
