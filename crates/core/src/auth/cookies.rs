//! Browser cookie mode. A page that sends `x-auth-mode: cookie` to login, register or refresh
//! gets its tokens as `HttpOnly; Secure; SameSite=Strict` cookies instead of in the body, so
//! its scripts never hold them. Requests then authenticate with the `access_token` cookie, and
//! every unsafe one (anything but GET, HEAD, OPTIONS) must echo the readable `csrf` cookie in
//! the `x-csrf-token` header (double submit), or it is `403 FORBIDDEN`. A request with an
//! `Authorization` header is a bearer request: cookies play no part in it.

use http::{HeaderMap, Method, header};

pub const ACCESS: &str = "access_token";
pub const REFRESH: &str = "refresh_token";
pub const CSRF: &str = "csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const MODE_HEADER: &str = "x-auth-mode";
/// The refresh cookie goes only to the routes that take it.
const REFRESH_PATH: &str = "/api/auth";

/// Whether the client asked for cookie mode (`x-auth-mode: cookie`).
pub fn wanted(headers: &HeaderMap) -> bool {
    headers
        .get(MODE_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("cookie"))
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// Safe methods need no CSRF token; others must send the `csrf` cookie's value in
/// `x-csrf-token` (compared in constant time).
pub fn csrf_ok(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    match (get(headers, CSRF), sent) {
        (Some(cookie), Some(sent)) => crate::secure_eq(cookie.as_bytes(), sent.trim().as_bytes()),
        _ => false,
    }
}

fn cookie(name: &str, value: &str, path: &str, max_age: i64, http_only: bool) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; Secure; SameSite=Strict{}",
        if http_only { "; HttpOnly" } else { "" }
    )
}

/// The `Set-Cookie` values that start or renew a cookie session.
pub fn issue(
    access: &str,
    access_ttl: i64,
    refresh: &str,
    refresh_ttl: i64,
    csrf: &str,
) -> [String; 3] {
    [
        cookie(ACCESS, access, "/", access_ttl, true),
        cookie(REFRESH, refresh, REFRESH_PATH, refresh_ttl, true),
        cookie(CSRF, csrf, "/", refresh_ttl, false),
    ]
}

/// The `Set-Cookie` values that end one (logout).
pub fn clear() -> [String; 3] {
    [
        cookie(ACCESS, "", "/", 0, true),
        cookie(REFRESH, "", REFRESH_PATH, 0, true),
        cookie(CSRF, "", "/", 0, false),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                *k,
                HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")),
            );
        }
        h
    }

    #[test]
    fn cookies_are_found_across_headers_and_pairs() {
        let h = headers(&[
            ("cookie", "theme=dark; access_token=abc"),
            ("cookie", "csrf=\"xyz\""),
        ]);
        assert_eq!(get(&h, ACCESS), Some("abc"));
        assert_eq!(get(&h, CSRF), Some("xyz"));
        assert_eq!(get(&h, REFRESH), None);
        assert_eq!(get(&headers(&[("cookie", "access_token=")]), ACCESS), None);
    }

    #[test]
    fn unsafe_methods_need_the_csrf_cookie_echoed() {
        let with = |sent: Option<&str>| {
            let mut pairs = vec![("cookie", "csrf=tok123")];
            if let Some(s) = sent {
                pairs.push(("x-csrf-token", s));
            }
            headers(&pairs)
        };
        assert!(csrf_ok(&Method::GET, &with(None)));
        assert!(csrf_ok(&Method::POST, &with(Some("tok123"))));
        assert!(!csrf_ok(&Method::POST, &with(None)));
        assert!(!csrf_ok(&Method::DELETE, &with(Some("tok124"))));
        assert!(!csrf_ok(&Method::PATCH, &with(Some(""))));
        assert!(!csrf_ok(&Method::POST, &headers(&[("x-csrf-token", "t")])));
    }

    #[test]
    fn issued_cookies_are_strict_and_only_csrf_is_readable() {
        let [access, refresh, csrf] = issue("a", 900, "r", 86400, "c");
        for c in [&access, &refresh, &csrf] {
            assert!(c.contains("; Secure; SameSite=Strict"), "{c}");
        }
        assert!(access.starts_with("access_token=a; Path=/; Max-Age=900"));
        assert!(access.ends_with("; HttpOnly"));
        assert!(refresh.contains("Path=/api/auth"));
        assert!(refresh.ends_with("; HttpOnly"));
        assert!(!csrf.contains("HttpOnly"));
        assert!(clear().iter().all(|c| c.contains("Max-Age=0")));
        assert!(wanted(&headers(&[("x-auth-mode", "Cookie")])));
        assert!(!wanted(&headers(&[("x-auth-mode", "bearer")])));
    }
}
