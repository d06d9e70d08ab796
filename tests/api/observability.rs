//! What the operator sees: `/metrics` (for the operator only) and one JSON log line per
//! request, with no secret in it.

use reqwest::{Method, StatusCode};
use serde_json::json;
use test_support::testing::{
    Api, AppConfig, SendExt, eventually, expect, expect_error, header, spawn_app, spawn_app_with,
    text, text_at,
};

/// The value of the sample `series` (`name{labels}`) in a Prometheus text page.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// What the metrics test's page must count: two active users, one conversation with two
/// messages, the answer's `generated` tokens, one login of each outcome, two registrations,
/// one answer's request and its duration.
fn assert_counts(page: &str, generated: f64) {
    let s = |series: &str| sample(page, series);
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
    assert_counts(&page, generated);
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
