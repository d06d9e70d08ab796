//! Black-box tests of the app under abuse and under watch: rate limits (exact under
//! concurrency), browser cookie mode with CSRF, metrics, and a table of hostile inputs.

use reqwest::{Method, StatusCode};
use serde_json::json;
use spin_test_host::testing::{
    Api, AppConfig, SendExt, TestApp, TestUser, eventually, expect, expect_error, header,
    spawn_app, spawn_app_with, text, text_at,
};

// ---- Rate limits ----

#[tokio::test]
async fn with_a_limit_of_50_exactly_50_of_64_concurrent_requests_pass() {
    // Arrange: one user, a general limit of 50 in a window longer than the test.
    let app = spawn_app_with(AppConfig::with_vars(&[
        ("rate_limit_general", "50"),
        ("rate_limit_window_seconds", "3600"),
    ]))
    .await;
    if app.skip_external("settings of its own (rate_limit_general, rate_limit_window_seconds)") {
        return;
    }
    let user = Api::new(&app).await;

    // Act: 64 requests at once (the host spreads them over concurrent instances).
    let requests = (0..64).map(|_| user.req(Method::GET, "/api/auth/me").go());
    let responses = futures::future::join_all(requests).await;

    // Assert: exactly 50 pass, the rest are 429 with retry-after, every answer counts down.
    let mut passed = 0;
    let mut limited = 0;
    let mut remaining = Vec::new();
    for resp in responses {
        assert_eq!(header(&resp, "ratelimit-limit").as_deref(), Some("50"));
        let reset: i64 = header(&resp, "ratelimit-reset")
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1);
        assert!((1..=3600).contains(&reset), "ratelimit-reset {reset}");
        remaining.push(
            header(&resp, "ratelimit-remaining")
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(-1),
        );
        match resp.status().as_u16() {
            200 => passed += 1,
            429 => {
                limited += 1;
                let retry: i64 = header(&resp, "retry-after")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(-1);
                assert!((1..=3600).contains(&retry), "retry-after {retry}");
                expect_error(resp, 429, "RATE_LIMITED").await;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((passed, limited), (50, 14));
    remaining.sort_unstable();
    let expected: Vec<i64> = std::iter::repeat_n(0, 15).chain(1..=49).collect();
    assert_eq!(remaining, expected, "each pass leaves one less");
}

#[tokio::test]
async fn sign_in_routes_are_limited_per_address_and_other_routes_keep_their_own_budget() {
    let app = spawn_app_with(AppConfig::with_vars(&[
        ("rate_limit_auth", "3"),
        ("rate_limit_general", "1000"),
    ]))
    .await;
    if app.skip_external("settings of its own (rate_limit_auth, rate_limit_general)") {
        return;
    }
    // Two registrations and a login use three of the address's auth budget.
    let user = Api::new(&app).await;
    TestUser::registered(&app).await;
    let mut again = user.clone();
    again.user.login(&app).await;

    // The fourth is refused, whoever it is for.
    let resp = TestUser::generate().register_request(&app).await;
    assert_eq!(header(&resp, "ratelimit-remaining").as_deref(), Some("0"));
    assert!(header(&resp, "retry-after").is_some());
    expect_error(resp, 429, "RATE_LIMITED").await;
    let resp = user.user.login_request(&app, &user.user.password).await;
    expect_error(resp, 429, "RATE_LIMITED").await;

    // The signed-in user's other requests spend the general budget, and probes none.
    let resp = user.get("/api/auth/me").await;
    assert_eq!(header(&resp, "ratelimit-limit").as_deref(), Some("1000"));
    expect(resp, 200).await;
    let resp = app.get("/health").go().await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "ratelimit-limit"), None);
}

/// Registers a new user; the request says it was forwarded for `forwarded_for` (if given).
async fn register_from(app: &TestApp, forwarded_for: Option<&str>) -> reqwest::Response {
    let user = TestUser::generate();
    let mut req = app
        .post("/api/auth/register")
        .json(&json!({ "username": user.username, "password": user.password }));
    if let Some(addr) = forwarded_for {
        req = req.header("x-forwarded-for", addr);
    }
    req.go().await
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_sign_in_budget() {
    // Arrange: two sign-in requests per address; the test client (127.0.0.1) is the proxy.
    let app = spawn_app_with(AppConfig::with_vars(&[
        ("rate_limit_auth", "2"),
        ("trusted_proxies", "127.0.0.0/8, ::1"),
    ]))
    .await;
    if app.skip_external("settings of its own (rate_limit_auth, trusted_proxies)") {
        return;
    }
    for _ in 0..2 {
        expect(register_from(&app, Some("203.0.113.9")).await, 201).await;
    }

    // Act
    let same = register_from(&app, Some("6.6.6.6, 203.0.113.9")).await;
    let other = register_from(&app, Some("198.51.100.7")).await;

    // Assert: the client's own forged entry (left) changes nothing; another client is
    // counted apart, and the proxy's own requests too.
    expect_error(same, 429, "RATE_LIMITED").await;
    assert_eq!(header(&other, "ratelimit-remaining").as_deref(), Some("1"));
    expect(other, 201).await;
    expect(register_from(&app, None).await, 201).await;
}

#[tokio::test]
async fn forwarded_addresses_are_ignored_unless_the_proxy_is_trusted() {
    // Arrange: no trusted proxies (the default).
    let app = spawn_app_with(AppConfig::with_vars(&[("rate_limit_auth", "2")])).await;
    if app.skip_external("settings of its own (rate_limit_auth)") {
        return;
    }
    for addr in ["203.0.113.1", "203.0.113.2"] {
        expect(register_from(&app, Some(addr)).await, 201).await;
    }

    // Act: a client claiming yet another address.
    let resp = register_from(&app, Some("203.0.113.3")).await;

    // Assert: all three came from the one connecting address, which has spent its budget.
    expect_error(resp, 429, "RATE_LIMITED").await;
}

#[tokio::test]
async fn a_refused_sign_in_says_when_its_own_limit_resets_not_the_address_budget() {
    // Arrange: two failures allowed per username in a long window; the address's budget for
    // sign-in requests (counted by the pipeline) is far from spent.
    let app = spawn_app_with(AppConfig::with_vars(&[
        ("rate_limit_auth", "100"),
        ("login_max_failures", "2"),
        ("login_window_seconds", "3600"),
    ]))
    .await;
    if app.skip_external(
        "settings of its own (rate_limit_auth, login_max_failures, login_window_seconds)",
    ) {
        return;
    }
    let user = Api::new(&app).await;
    for _ in 0..2 {
        let resp = user.user.login_request(&app, "wrong password here").await;
        expect_error(resp, 401, "INVALID_CREDENTIALS").await;
    }

    // Act
    let resp = user.user.login_request(&app, &user.user.password).await;

    // Assert: every header describes the username's limit, which refused the request.
    let retry_after = header(&resp, "retry-after").unwrap_or_default();
    let seconds: u32 = retry_after.parse().unwrap_or(0);
    assert!(
        (3500..=3600).contains(&seconds),
        "retry-after {retry_after}"
    );
    assert_eq!(header(&resp, "ratelimit-limit").as_deref(), Some("2"));
    assert_eq!(header(&resp, "ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(header(&resp, "ratelimit-reset"), Some(retry_after));
    expect_error(resp, 429, "RATE_LIMITED").await;
}

#[tokio::test]
async fn each_user_and_each_api_key_has_its_own_budget() {
    let app = spawn_app_with(AppConfig::with_vars(&[("rate_limit_general", "3")])).await;
    if app.skip_external("settings of its own (rate_limit_general)") {
        return;
    }
    let alice = Api::new(&app).await;
    let bob = Api::new(&app).await;
    // Creating the key spends one of Alice's three.
    let key = expect(
        alice
            .post("/api/auth/keys", &json!({"name": "script"}))
            .await,
        201,
    )
    .await;
    let key = text_at(&key, "/key");
    assert!(!key.is_empty(), "no key in the answer");

    for _ in 0..2 {
        let resp = alice.get("/api/auth/me").await;
        expect(resp, 200).await;
    }
    let resp = alice.get("/api/auth/me").await;
    expect_error(resp, 429, "RATE_LIMITED").await;

    // Bob, and Alice's key, still have all of theirs.
    for token in [bob.token(), &key] {
        let resp = app.bearer(token).get("/api/auth/me").await;
        assert_eq!(header(&resp, "ratelimit-remaining").as_deref(), Some("2"));
        expect(resp, 200).await;
    }
}

#[tokio::test]
async fn a_writer_holding_the_database_lets_requests_through_uncounted_instead_of_stalling_them() {
    // Arrange: a budget of two, both spent.
    let app = spawn_app_with(AppConfig::with_vars(&[("rate_limit_general", "2")])).await;
    let Some(db) = app.database_path() else {
        return; // needs the database file (not available against an external app)
    };
    let alice = Api::new(&app).await;
    let me = || alice.req(Method::GET, "/api/auth/me");
    for _ in 0..2 {
        expect(me().go().await, 200).await;
    }

    // Act: another writer (a long import, say) holds the write lock.
    let holder = rusqlite::Connection::open(db).unwrap_or_else(|e| panic!("{e}"));
    holder
        .execute_batch("BEGIN IMMEDIATE")
        .unwrap_or_else(|e| panic!("{e}"));
    let held = me().go().await;
    holder
        .execute_batch("ROLLBACK")
        .unwrap_or_else(|e| panic!("{e}"));

    // Assert: the counter could not be written, so the request went through (before the
    // writer was done) without rate-limit headers, and the operator is told; once the writer
    // is done, counting resumes.
    assert_eq!(header(&held, "ratelimit-limit"), None);
    expect(held, 200).await;
    eventually("the warning that a request went uncounted", async || {
        let logs = app.component_logs();
        logs.lines()
            .any(|l| {
                l.contains("\"level\":\"warn\"")
                    && l.contains("rate limit not counted; request let through")
            })
            .then_some(())
    })
    .await;
    expect_error(me().go().await, 429, "RATE_LIMITED").await;
}

/// The rate-limit counters in the database file: key -> count.
fn counters(db: &std::path::Path) -> std::collections::HashMap<String, i64> {
    let conn = rusqlite::Connection::open(db).unwrap_or_else(|e| panic!("{e}"));
    let mut stmt = conn
        .prepare("SELECT key, count FROM rate_limits")
        .unwrap_or_else(|e| panic!("{e}"));
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|rows| rows.collect())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn counters_of_ended_windows_are_deleted_when_a_new_caller_is_counted() {
    // Arrange: Alice's and Bob's counters; Alice's window ended an hour ago.
    let app = spawn_app_with(AppConfig::with_vars(&[("rate_limit_general", "5")])).await;
    let Some(db) = app.database_path() else {
        return; // needs the database file (not available against an external app)
    };
    let (alice, bob) = (Api::new(&app).await, Api::new(&app).await);
    for _ in 0..3 {
        expect(alice.me().await, 200).await;
    }
    expect(bob.me().await, 200).await;
    let alices = format!("rl:general:u:{}", alice.user.id);
    let bobs = format!("rl:general:u:{}", bob.user.id);
    assert_eq!(counters(&db).get(&alices), Some(&3));
    rusqlite::Connection::open(&db)
        .and_then(|c| {
            c.execute(
                "UPDATE rate_limits SET window_start = window_start - 3600,
                        expires_at = expires_at - 3600 WHERE key = ?",
                [&alices],
            )
        })
        .unwrap_or_else(|e| panic!("{e}"));

    // Act: a caller not counted before.
    let carol = Api::new(&app).await;
    expect(carol.me().await, 200).await;

    // Assert: Alice's ended counter is gone; the live ones stay; Alice starts a new window.
    let left = counters(&db);
    assert_eq!(left.get(&alices), None, "{left:?}");
    assert_eq!(left.get(&bobs), Some(&1), "{left:?}");
    assert_eq!(
        left.get(&format!("rl:general:u:{}", carol.user.id)),
        Some(&1)
    );
    let resp = alice.me().await;
    assert_eq!(header(&resp, "ratelimit-remaining").as_deref(), Some("4"));
    expect(resp, 200).await;
}

#[tokio::test]
async fn a_new_caller_deletes_a_bounded_batch_of_ended_counters() {
    // Arrange: Alice's live counters, and 1,000 counters of other addresses whose windows
    // ended an hour ago.
    let app = spawn_app_with(AppConfig::with_vars(&[("rate_limit_general", "5")])).await;
    let Some(db) = app.database_path() else {
        return; // needs the database file (not available against an external app)
    };
    let alice = Api::new(&app).await;
    expect(alice.me().await, 200).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let mut conn = rusqlite::Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
    let tx = conn.transaction().unwrap_or_else(|e| panic!("{e}"));
    for i in 0..1000 {
        tx.execute(
            "INSERT INTO rate_limits (key, window_start, count, expires_at) VALUES (?, ?, 1, ?)",
            rusqlite::params![
                format!("rl:general:ip:10.0.{}.{}", i / 256, i % 256),
                now - 3660,
                now - 3600
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    tx.commit().unwrap_or_else(|e| panic!("{e}"));
    let before = counters(&db);
    let live: Vec<String> = before
        .keys()
        .filter(|k| !k.starts_with("rl:general:ip:10.0."))
        .cloned()
        .collect();
    assert!(!live.is_empty(), "{before:?}");

    // Act: Bob's first request inserts his counter (his sign-up counted under an address
    // already known, Alice's).
    let bob = Api::new(&app).await;
    expect(bob.me().await, 200).await;

    // Assert: one batch of ended counters went, no live one; the rest wait for later callers.
    let after = counters(&db);
    let deleted = before.len() + 1 - after.len();
    assert!(
        (64 - live.len() - 1..=64).contains(&deleted),
        "{deleted} deleted of {} with {} live",
        before.len(),
        live.len()
    );
    for key in &live {
        assert!(after.contains_key(key), "live counter {key} deleted");
    }
    assert_eq!(
        after.get(&format!("rl:general:u:{}", bob.user.id)),
        Some(&1)
    );
}

// ---- Metrics and logs ----

/// The value of the sample `series` (`name{labels}`) in a Prometheus text page.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_users_logins_answers_tokens_and_requests_for_the_operator_only() {
    // Arrange: an admin, a user, a login that works and one that does not, one answer.
    let app = spawn_app_with(AppConfig::with_vars(&[(
        "metrics_token",
        "scrape-secret-123",
    )]))
    .await;
    if app.skip_external("settings of its own (metrics_token)") {
        return;
    }
    let admin = Api::new(&app).await;
    let mut user = Api::new(&app).await;
    user.user.login(&app).await;
    expect_error(
        user.user.login_request(&app, "not the password").await,
        401,
        "INVALID_CREDENTIALS",
    )
    .await;
    let id = user.conversation(json!({"model": "llama3.2:1b"})).await;
    let answer = expect(
        user.post(
            &format!("/api/chat/{id}/messages"),
            &json!({"content": "Hi", "stream": false}),
        )
        .await,
        201,
    )
    .await;
    let generated = answer["assistant_message"]["usage"]["completion_tokens"]
        .as_f64()
        .unwrap_or(-1.0);
    assert!(generated > 0.0, "{answer}");

    // Act + Assert: who may read.
    expect_error(app.get("/metrics").go().await, 401, "UNAUTHENTICATED").await;
    let as_user = user.get("/metrics").await;
    expect_error(as_user, 403, "FORBIDDEN").await;
    let as_admin = admin.get("/metrics").await;
    assert_eq!(as_admin.status(), StatusCode::OK);
    let wrong = app.bearer("scrape-secret-124").get("/metrics").await;
    expect_error(wrong, 401, "UNAUTHENTICATED").await;

    // What it says, once the instances have written their counts.
    let page = eventually("the answer's counts", async || {
        let resp = app.bearer("scrape-secret-123").get("/metrics").await;
        assert!(
            header(&resp, "content-type").is_some_and(|c| c.starts_with("text/plain")),
            "content type"
        );
        let page = text(resp).await;
        sample(
            &page,
            r#"ollama_chat_tokens_generated_total{model="llama3.2:1b"}"#,
        )
        .is_some()
        .then_some(page)
    })
    .await;
    let s = |series: &str| sample(&page, series);
    assert_eq!(s(r#"ollama_chat_users{status="active"}"#), Some(2.0));
    assert_eq!(s("ollama_chat_conversations"), Some(1.0));
    assert_eq!(s("ollama_chat_messages"), Some(2.0));
    assert_eq!(
        s(r#"ollama_chat_tokens_generated_total{model="llama3.2:1b"}"#),
        Some(generated)
    );
    assert_eq!(
        s(r#"ollama_chat_chat_requests_total{outcome="complete"}"#),
        Some(1.0)
    );
    assert_eq!(
        s(r#"ollama_chat_logins_total{outcome="success"}"#),
        Some(1.0)
    );
    assert_eq!(
        s(r#"ollama_chat_logins_total{outcome="invalid_credentials"}"#),
        Some(1.0)
    );
    assert_eq!(
        s(r#"ollama_chat_http_requests_total{family="auth",status="201"}"#),
        Some(2.0),
        "two registrations"
    );
    assert_eq!(
        s(r#"ollama_chat_http_requests_total{family="chat",status="201"}"#),
        Some(1.0)
    );
    assert_eq!(
        s(r#"ollama_chat_http_request_duration_seconds_count{family="chat"}"#),
        Some(1.0)
    );
    assert!(page.contains("# TYPE ollama_chat_http_request_duration_seconds histogram"));
    // No secret, name or content on the page.
    for secret in [
        user.user.password.as_str(),
        user.user.username.as_str(),
        "Hi",
        "scrape-secret",
    ] {
        assert!(!page.contains(secret), "{secret} on the metrics page");
    }
}

#[tokio::test]
async fn every_request_logs_one_json_line_with_its_route_and_user_and_no_secret() {
    let app = spawn_app().await;
    if app.skip_external("the app's log files") {
        return;
    }
    let user = Api::new(&app).await;
    let resp = user
        .req(
            Method::GET,
            "/api/conversations/0123456789abcdef0123456789abcdef",
        )
        .header("x-request-id", "trace-me-42")
        .go()
        .await;
    expect_error(resp, 404, "NOT_FOUND").await;

    // Written just after the response's first bytes left, so it may come a moment later.
    let line = eventually("the request's log line", async || {
        app.component_logs()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["request_id"] == "trace-me-42")
    })
    .await;
    assert_eq!(line["level"], "info");
    assert_eq!(line["component"], "conversations");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["route"], "/api/conversations/{id}");
    assert!(
        line.get("path").is_none(),
        "the raw path is not logged: {line}"
    );
    assert_eq!(line["status"], 404);
    assert_eq!(line["user_id"], user.user.id.as_str());
    assert!(line["duration_ms"].as_f64().is_some_and(|d| d >= 0.0));
    assert!(line["ts"].as_str().is_some());
    // A share link's token is in its path: the line has the route, never the token.
    let cid = user.conversation(json!({"title": "shared"})).await;
    let link = expect(
        user.call(Method::POST, &format!("/api/conversations/{cid}/share"))
            .await,
        201,
    )
    .await;
    let token = text_at(&link, "/token");
    assert!(!token.is_empty(), "{link}");
    expect(app.get(&format!("/api/shared/{token}")).go().await, 200).await;
    let logs = eventually("the shared route's log line", async || {
        let logs = app.component_logs();
        logs.contains("\"route\":\"/api/shared/{token}\"")
            .then_some(logs)
    })
    .await;
    for secret in [
        &user.user.password,
        &user.user.access_token,
        &user.user.refresh_token,
        &token,
    ] {
        assert!(!logs.contains(secret.as_str()), "a secret in the logs");
    }
}

#[tokio::test]
async fn log_level_error_keeps_request_lines_out() {
    let app = spawn_app_with(AppConfig::with_vars(&[("log_level", "error")])).await;
    if app.skip_external("settings of its own (log_level)") {
        return;
    }
    let user = Api::new(&app).await;
    let cid = user.conversation(json!({})).await;
    let health = app
        .get("/health")
        .header("x-request-id", "quiet-1")
        .go()
        .await;
    assert_eq!(health.status(), StatusCode::OK);
    // An event stream ends after its request's line would have been written (the line goes
    // before the stream's second frame), so its absence at the end is certain.
    let resp = user
        .req(Method::POST, &format!("/api/chat/{cid}/messages"))
        .header("x-request-id", "quiet-2")
        .json(&json!({"content": "hello"}))
        .go()
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let events = text(resp).await;
    assert!(events.contains("event: done"), "{events}");
    let logs = app.component_logs();
    assert!(!logs.contains("quiet-2"), "{logs}");
    assert!(!logs.contains("quiet-1"), "{logs}");
}

// ---- Browser cookie mode ----

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

// ---- Hostile input ----

/// One hostile request and the clean answer it must get.
struct Torture {
    what: &'static str,
    method: Method,
    path: String,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
}

fn torture(
    what: &'static str,
    method: Method,
    path: &str,
    body: impl Into<Vec<u8>>,
    status: u16,
    code: &'static str,
) -> Torture {
    Torture {
        what,
        method,
        path: path.to_string(),
        body: body.into(),
        status,
        code,
    }
}

fn json_bytes(v: serde_json::Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

#[tokio::test]
async fn hostile_input_gets_a_clean_4xx_envelope_and_nothing_is_stored_half_way() {
    // Arrange: a user with one conversation.
    let app = spawn_app().await;
    let user = Api::new(&app).await;
    let cid = user.conversation(json!({"title": "kept"})).await;
    let chat = format!("/api/chat/{cid}/messages");
    let password = "a long enough password 12345";
    let deep = |n: usize| {
        let mut v = vec![b'['; n];
        v.extend(vec![b']'; n]);
        v
    };
    let mut deep_options = b"{\"options\":{\"a\":".to_vec();
    deep_options.extend(deep(10_000));
    deep_options.extend(b"}}");
    let mega = "x".repeat(1_000_000);

    let table = vec![
        // SQL injection where the syntax is checked, or where it names a row.
        torture(
            "SQL in a username",
            Method::POST,
            "/api/auth/register",
            json_bytes(json!({"username": "admin' --", "password": password})),
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "SQL in a login",
            Method::POST,
            "/api/auth/login",
            json_bytes(json!({"username": "' OR '1'='1", "password": "' OR '1'='1"})),
            401,
            "INVALID_CREDENTIALS",
        ),
        torture(
            "SQL as an id",
            Method::GET,
            "/api/conversations/' OR '1'='1",
            vec![],
            404,
            "NOT_FOUND",
        ),
        torture(
            "SQL as a cursor",
            Method::GET,
            "/api/conversations?cursor=' OR 1=1 --",
            vec![],
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "SQL as a limit",
            Method::GET,
            "/api/conversations?limit=1;DROP TABLE users",
            vec![],
            400,
            "VALIDATION_ERROR",
        ),
        // NUL and control characters.
        torture(
            "NUL in a title",
            Method::POST,
            "/api/conversations",
            json_bytes(json!({"title": "a\u{0}b"})),
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "NUL in a system prompt",
            Method::POST,
            "/api/conversations",
            json_bytes(json!({"system_prompt": "be\u{0}nice"})),
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "escape in a tag",
            Method::POST,
            "/api/conversations",
            json_bytes(json!({"tags": ["a\u{1b}[31m"]})),
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "NUL in a message",
            Method::POST,
            &chat,
            json_bytes(json!({"content": "hi\u{0}there", "stream": false})),
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "bell in a message",
            Method::POST,
            &chat,
            json_bytes(json!({"content": "ding\u{7}", "stream": false})),
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "NUL in a username",
            Method::POST,
            "/api/auth/register",
            json_bytes(json!({"username": "a\u{0}b", "password": password})),
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "NUL in a display name",
            Method::PATCH,
            "/api/auth/me",
            json_bytes(json!({"display_name": "\u{0}"})),
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "NUL in a search",
            Method::GET,
            "/api/conversations?q=a%00b",
            vec![],
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "NUL in an option",
            Method::POST,
            "/api/conversations",
            json_bytes(json!({"options": {"stop": ["\u{0}"]}})),
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "NUL in an imported message",
            Method::POST,
            "/api/conversations/import",
            json_bytes(json!({"conversations": [{"title": "t", "messages": [
                {"role": "user", "content": "fine"}, {"role": "assistant", "content": "a\u{0}"}]}]})),
            400,
            "VALIDATION_ERROR",
        ),
        // Invalid UTF-8.
        torture(
            "invalid UTF-8 in a body",
            Method::POST,
            "/api/conversations",
            b"{\"title\":\"\xff\xfe\"}".to_vec(),
            400,
            "INVALID_JSON",
        ),
        torture(
            "overlong UTF-8 in a body",
            Method::POST,
            "/api/conversations",
            b"{\"title\":\"\xc0\xaf\"}".to_vec(),
            400,
            "INVALID_JSON",
        ),
        torture(
            "invalid UTF-8 in a query",
            Method::GET,
            "/api/conversations?q=%FF%FE",
            vec![],
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "a lone surrogate",
            Method::POST,
            "/api/conversations",
            b"{\"title\":\"\\ud800\"}".to_vec(),
            400,
            "INVALID_JSON",
        ),
        // Deep nesting.
        torture(
            "10,000-deep array",
            Method::POST,
            "/api/conversations",
            deep(10_000),
            400,
            "INVALID_JSON",
        ),
        torture(
            "10,000-deep options",
            Method::POST,
            "/api/conversations",
            deep_options,
            400,
            "INVALID_JSON",
        ),
        // Huge numbers.
        torture(
            "a number beyond f64",
            Method::POST,
            "/api/conversations",
            b"{\"options\":{\"temperature\":1e400}}".to_vec(),
            400,
            "INVALID_JSON",
        ),
        torture(
            "a number beyond 2^53",
            Method::POST,
            "/api/conversations",
            b"{\"options\":{\"seed\":123456789012345678901234567890}}".to_vec(),
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "a limit beyond u64",
            Method::GET,
            "/api/conversations?limit=99999999999999999999999",
            vec![],
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "a negative limit",
            Method::GET,
            "/api/conversations?limit=-1",
            vec![],
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "a huge key lifetime",
            Method::POST,
            "/api/auth/keys",
            b"{\"name\":\"k\",\"expires_in_days\":1e20}".to_vec(),
            400,
            "VALIDATION_ERROR",
        ),
        // 1 MB strings.
        torture(
            "a 1 MB title",
            Method::POST,
            "/api/conversations",
            json_bytes(json!({"title": mega})),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        torture(
            "a 1 MB message",
            Method::POST,
            &chat,
            json_bytes(json!({"content": mega, "stream": false})),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        torture(
            "a 1 MB password",
            Method::POST,
            "/api/auth/login",
            json_bytes(json!({"username": "x", "password": mega})),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        // Unicode edge cases where the syntax is fixed.
        torture(
            "a fullwidth username",
            Method::POST,
            "/api/auth/register",
            json_bytes(json!({"username": "ＡＤＭＩＮ", "password": password})),
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "a right-to-left override in a username",
            Method::POST,
            "/api/auth/register",
            json_bytes(json!({"username": "abc\u{202e}gpj", "password": password})),
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "a zero-width joiner in a model",
            Method::POST,
            &chat,
            json_bytes(json!({"content": "hi", "model": "llama\u{200d}3", "stream": false})),
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "a byte-order mark before the body",
            Method::POST,
            "/api/conversations",
            "\u{feff}{}".as_bytes().to_vec(),
            400,
            "INVALID_JSON",
        ),
    ];

    // Path parameters that cannot be an id name nothing, on every route that has one: not
    // UTF-8 once decoded, overlong, control characters, another alphabet.
    let mut table = table;
    let long = "a".repeat(300);
    for bad in [
        "%FF%FE",
        long.as_str(),
        "a%00b",
        "a%0Ab",
        "%1B%5B31m",
        "%C3%A9t%C3%A9",
    ] {
        for (method, path) in [
            (Method::GET, "/api/conversations/{}"),
            (Method::PATCH, "/api/conversations/{}"),
            (Method::DELETE, "/api/conversations/{}"),
            (Method::GET, "/api/conversations/{}/messages"),
            (Method::GET, "/api/conversations/{}/export"),
            (Method::POST, "/api/conversations/{}/share"),
            (Method::DELETE, "/api/conversations/{}/share"),
            (Method::GET, "/api/shared/{}"),
            (Method::POST, "/api/chat/{}/messages"),
            (Method::POST, "/api/chat/{}/regenerate"),
            (Method::POST, "/api/chat/{}/stop"),
            (Method::DELETE, "/api/auth/sessions/{}"),
            (Method::DELETE, "/api/auth/keys/{}"),
            (Method::POST, "/api/auth/keys/{}/rotate"),
            (Method::PATCH, "/api/admin/users/{}"),
            (Method::DELETE, "/api/admin/users/{}"),
        ] {
            let body = match method {
                Method::PATCH => json_bytes(json!({"title": "t", "status": "active"})),
                Method::POST => json_bytes(json!({"content": "hi", "stream": false})),
                _ => vec![],
            };
            table.push(Torture {
                what: "a path parameter that cannot be an id",
                method,
                path: path.replace("{}", bad),
                body,
                status: 404,
                code: "NOT_FOUND",
            });
        }
    }
    // A model name is not an id, but one that is not UTF-8 names no model either.
    table.push(torture(
        "a model name that is not UTF-8",
        Method::GET,
        "/api/models/%FF%FE",
        vec![],
        404,
        "NOT_FOUND",
    ));

    // Act + Assert: each answer is the envelope with the right status and code.
    for case in &table {
        // Against APP_URL this user is not the admin, and admin routes answer 403 first.
        if app.is_external() && case.path.starts_with("/api/admin/") {
            continue;
        }
        let resp = user
            .req(case.method.clone(), &case.path)
            .header("content-type", "application/json")
            .body(case.body.clone())
            .go()
            .await;
        let status = resp.status().as_u16();
        let text = text(resp).await;
        let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|_| {
            panic!("{}: not JSON: {}", case.what, &text[..text.len().min(200)])
        });
        assert_eq!(
            status, case.status,
            "{} ({} {}): {body}",
            case.what, case.method, case.path
        );
        assert_eq!(
            body["error"]["code"], case.code,
            "{} ({} {}): {body}",
            case.what, case.method, case.path
        );
        assert!(body["request_id"].is_string(), "{}: {body}", case.what);
    }

    // Nothing was stored half-way: one user (when this app is ours, so its first user is
    // this admin), one conversation, no message.
    if !app.is_external() {
        let admin_view = expect(user.get("/api/admin/users").await, 200).await;
        assert_eq!(admin_view["items"].as_array().map(Vec::len), Some(1));
    }
    let list = expect(user.get("/api/conversations").await, 200).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["items"][0]["message_count"], 0);

    // Where such text is legitimately text, it is stored exactly as sent.
    for title in [
        "'; DROP TABLE users; --",
        "\u{202e}evil\u{200d}\u{1f600} e\u{301}",
        "tab\tand\nnewline",
    ] {
        let made = expect(
            user.post(
                "/api/conversations",
                &json!({"system_prompt": title, "title": title.replace(['\t', '\n'], " ")}),
            )
            .await,
            201,
        )
        .await;
        assert_eq!(made["conversation"]["system_prompt"], title);
    }
    let found = expect(user.get("/api/conversations?q=DROP%20TABLE").await, 200).await;
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1), "{found}");
}
