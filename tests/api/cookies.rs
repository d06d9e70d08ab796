//! Browser cookie mode: tokens kept from scripts, CSRF on unsafe requests, refresh and
//! logout.

use reqwest::{Method, StatusCode};
use serde_json::json;
use test_support::testing::{Api, SendExt, expect, expect_error, spawn_app};

/// The cookies a response sets: name → the whole `Set-Cookie` value.
fn set_cookies(resp: &reqwest::Response) -> Vec<(String, String, String)> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| {
            let (pair, _) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=')?;
            Some((name.to_string(), value.to_string(), v.to_string()))
        })
        .collect()
}

fn cookie_value(set: &[(String, String, String)], name: &str) -> String {
    set.iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, v, _)| v.clone())
        .unwrap_or_else(|| panic!("no {name} cookie set"))
}

#[tokio::test]
async fn cookie_sessions_keep_tokens_from_scripts_and_unsafe_requests_need_the_csrf_token() {
    // Arrange: a user signs in in cookie mode.
    let app = spawn_app().await;
    let user = Api::new(&app).await;
    let resp = app
        .post("/api/auth/login")
        .header("x-auth-mode", "cookie")
        .json(&json!({"username": user.user.username, "password": user.user.password}))
        .go()
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let set = set_cookies(&resp);
    let body = expect(resp, 200).await;

    // The body holds no token; the cookies are HttpOnly, Secure and SameSite=Strict.
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none());
    assert_eq!(body["user"]["id"], user.user.id.as_str());
    assert_eq!(body["token_type"], "Cookie");
    for (name, _, whole) in &set {
        assert!(
            whole.contains("Secure") && whole.contains("SameSite=Strict"),
            "{whole}"
        );
        assert_eq!(whole.contains("HttpOnly"), name != "csrf", "{whole}");
    }
    let access = cookie_value(&set, "access_token");
    let refresh = cookie_value(&set, "refresh_token");
    let csrf = cookie_value(&set, "csrf");
    assert_eq!(body["csrf_token"], csrf.as_str());
    let jar = format!("access_token={access}; refresh_token={refresh}; csrf={csrf}");

    // Reads need only the cookie.
    let me = app.get("/api/auth/me").header("cookie", &jar).go().await;
    assert_eq!(expect(me, 200).await["user"]["id"], user.user.id.as_str());

    // Writes without the token, or with a wrong one, are refused and change nothing.
    for sent in [None, Some("not-the-token"), Some("")] {
        let mut req = app
            .post("/api/conversations")
            .header("cookie", &jar)
            .json(&json!({"title": "forged"}));
        if let Some(t) = sent {
            req = req.header("x-csrf-token", t);
        }
        expect_error(req.go().await, 403, "FORBIDDEN").await;
    }
    let list = expect(
        app.get("/api/conversations")
            .header("cookie", &jar)
            .go()
            .await,
        200,
    )
    .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
    let made = app
        .post("/api/conversations")
        .header("cookie", &jar)
        .header("x-csrf-token", &csrf)
        .json(&json!({"title": "mine"}))
        .go()
        .await;
    expect(made, 201).await;

    // Bearer requests are unaffected by cookies and need no CSRF token.
    let bearer = user
        .req(Method::POST, "/api/conversations")
        .header("cookie", "csrf=whatever")
        .json(&json!({"title": "scripted"}))
        .go()
        .await;
    expect(bearer, 201).await;
}

#[tokio::test]
async fn cookie_sessions_refresh_and_log_out_with_the_csrf_token() {
    let app = spawn_app().await;
    let user = Api::new(&app).await;
    let resp = app
        .post("/api/auth/login")
        .header("x-auth-mode", "cookie")
        .json(&json!({"username": user.user.username, "password": user.user.password}))
        .go()
        .await;
    let set = set_cookies(&resp);
    expect(resp, 200).await;
    let (refresh, csrf) = (
        cookie_value(&set, "refresh_token"),
        cookie_value(&set, "csrf"),
    );
    let jar = format!("refresh_token={refresh}; csrf={csrf}");

    // Refresh by cookie needs the CSRF token too.
    let forged = app
        .post("/api/auth/refresh")
        .header("cookie", &jar)
        .go()
        .await;
    expect_error(forged, 403, "FORBIDDEN").await;
    let renewed = app
        .post("/api/auth/refresh")
        .header("cookie", &jar)
        .header("x-csrf-token", &csrf)
        .go()
        .await;
    let set = set_cookies(&renewed);
    let body = expect(renewed, 200).await;
    assert!(body.get("access_token").is_none());
    let access = cookie_value(&set, "access_token");
    let new_refresh = cookie_value(&set, "refresh_token");
    let new_csrf = cookie_value(&set, "csrf");
    assert_ne!(new_refresh, refresh, "the refresh token rotates");
    let jar = format!("access_token={access}; refresh_token={new_refresh}; csrf={new_csrf}");

    // Logout ends the session and clears the cookies.
    let out = app
        .post("/api/auth/logout")
        .header("cookie", &jar)
        .header("x-csrf-token", &new_csrf)
        .go()
        .await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookies(&out);
    for name in ["access_token", "refresh_token", "csrf"] {
        assert!(
            cleared
                .iter()
                .any(|(n, v, whole)| n == name && v.is_empty() && whole.contains("Max-Age=0")),
            "{name} not cleared: {cleared:?}"
        );
    }
    let after = app.get("/api/auth/me").header("cookie", &jar).go().await;
    expect_error(after, 401, "UNAUTHENTICATED").await;
}
