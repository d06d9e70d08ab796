//! Rate limits: exact under concurrency, per address behind trusted proxies, per user and
//! key, a database writer that holds the lock, and ended windows cleaned up.

use reqwest::{Method, StatusCode};
use serde_json::json;
use test_support::testing::{
    Api, AppConfig, SendExt, TestApp, TestUser, eventually, expect, expect_error, header,
    spawn_app_with, text_at,
};

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
