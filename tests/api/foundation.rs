//! Black-box tests of the foundation: health and readiness, the headers every response
//! carries, the error envelope for unknown routes, wrong methods and bad bodies, CORS,
//! migrations under concurrency, and least-privilege outbound HTTP.

use reqwest::StatusCode;
use serde_json::Value;
use spin_test_host::ReuseConfig;
use test_support::fake_ollama::FakeOllama;
use test_support::testing::{
    Api, AppConfig, SendExt, TestApp, expect_error, expect_stated_length, header, json,
    manifest_variant, spawn_app, spawn_app_with, text, text_at, try_spawn_app_with,
};

fn assert_security_headers(resp: &reqwest::Response, what: &str) {
    let h = resp.headers();
    let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    assert_eq!(get("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(
        get("content-security-policy"),
        "default-src 'none'; frame-ancestors 'none'",
        "{what}"
    );
    assert!(!get("x-request-id").is_empty(), "{what}: x-request-id");
    assert!(!get("cache-control").is_empty(), "{what}: cache-control");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_ok() {
    let app = spawn_app().await;

    let resp = app.get("/health").go().await;

    assert_eq!(resp.status(), StatusCode::OK);
    assert_security_headers(&resp, "/health");
    assert_eq!(json(resp).await, serde_json::json!({ "status": "ok" }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_reports_sqlite_kv_and_ollama() {
    let app = spawn_app().await;
    if app.skip_external("the fake Ollama (readiness is `ok` only when Ollama answers)") {
        return;
    }

    let resp = app.get("/health/ready").go().await;

    assert_eq!(resp.status(), StatusCode::OK);
    let body = json(resp).await;
    assert_eq!(body["status"], "ok", "{body}");
    for check in ["sqlite", "kv", "ollama"] {
        assert_eq!(body["checks"][check]["status"], "ok", "{check}: {body}");
        assert!(
            body["checks"][check]["latency_ms"].is_number(),
            "{check}: {body}"
        );
    }
    assert_eq!(body["checks"]["ollama"]["version"], "0.12.6", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_degraded_when_ollama_is_down() {
    let refused = FakeOllama::refused_url().await;
    let app = spawn_app_with(AppConfig {
        ollama_url: Some(refused),
        ..AppConfig::default()
    })
    .await;
    if app.skip_external("an Ollama address of its own") {
        return;
    }

    let resp = app.get("/health/ready").go().await;

    assert_eq!(resp.status(), StatusCode::OK);
    let body = json(resp).await;
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["checks"]["sqlite"]["status"], "ok", "{body}");
    assert_eq!(body["checks"]["kv"]["status"], "ok", "{body}");
    assert_eq!(body["checks"]["ollama"]["status"], "error", "{body}");
    assert!(body["checks"]["ollama"]["latency_ms"].is_number(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_down_when_sqlite_is_unusable() {
    // The database file is not a database. Spin opens it on first use, so the app starts.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let database = dir.path().join("corrupt.db");
    std::fs::write(&database, "not a database; ".repeat(512)).unwrap_or_else(|e| panic!("{e}"));
    let config = dir.path().join("runtime-config.toml");
    std::fs::write(
        &config,
        format!(
            "[sqlite_database.default]\ntype = \"spin\"\npath = \"{}\"\n",
            database.display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let app = spawn_app_with(AppConfig {
        runtime_config: Some(config),
        ..AppConfig::default()
    })
    .await;
    if app.skip_external("a runtime config of its own") {
        return;
    }

    let resp = app.get("/health/ready").go().await;

    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = json(resp).await;
    assert_eq!(body["status"], "down", "{body}");
    assert_eq!(body["checks"]["sqlite"]["status"], "error", "{body}");
    assert_eq!(body["checks"]["kv"]["status"], "ok", "{body}");
    let text = body.to_string();
    assert!(!text.contains("corrupt.db"), "no path may leak: {text}");
    // /health touches nothing, so it stays up.
    let live = app.get("/health").go().await;
    assert_eq!(live.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_does_not_start_when_its_database_directory_cannot_be_made() {
    // The database's directory would be under a regular file. Spin makes the directory at
    // start-up and stops there; so does the test host.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let blocker = dir.path().join("not-a-directory");
    std::fs::write(&blocker, b"x").unwrap_or_else(|e| panic!("{e}"));
    let config = dir.path().join("runtime-config.toml");
    std::fs::write(
        &config,
        format!(
            "[sqlite_database.default]\ntype = \"spin\"\npath = \"{}\"\n",
            blocker.join("app.db").display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let started = try_spawn_app_with(AppConfig {
        runtime_config: Some(config),
        ..AppConfig::default()
    })
    .await;

    match started {
        Ok(app) if app.skip_external("a runtime config of its own") => {}
        Ok(_) => panic!("the app started with a database it cannot create"),
        Err(e) => {
            let e = format!("{e:#}");
            assert!(
                e.contains("failed to create sqlite database directory"),
                "{e}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_names_the_app_and_its_components() {
    let app = spawn_app().await;

    let body = json(app.get("/info").go().await).await;

    assert_eq!(body["name"], "ollama-chat");
    assert!(body["version"].is_string());
    let components: Vec<&str> = body["components"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(components, ["auth", "conversations", "chat", "health"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_security_headers_and_a_request_id() {
    let app = spawn_app().await;
    let requests = [
        ("GET", "/health"),
        ("GET", "/health/ready"),
        ("GET", "/info"),
        ("GET", "/openapi.json"),
        ("GET", "/nowhere"),
        ("GET", "/api/auth/me"),
        ("GET", "/api/conversations"),
        ("POST", "/api/chat/abc/messages"),
        ("GET", "/api/models"),
        ("POST", "/health"),
    ];

    for (method, path) in requests {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or_default();
        let resp = app.client.request(method.clone(), app.at(path)).go().await;
        assert_security_headers(&resp, &format!("{method} {path}"));
    }
}

/// An answer whose length is not stated goes out chunked, and its closing chunk in a write of
/// its own, which Spin's listener (Nagle on) holds until the client's delayed ACK: every
/// error answered ~40 ms late on a kept-alive connection until the envelope stated its length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_state_their_length_errors_included() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let bearer = format!("Bearer {}", api.token());
    let json_body = |b: &'static str| ("application/json", b);
    let cases = [
        ("GET", "/health", false, None, 200),
        ("GET", "/api/conversations", true, None, 200),
        ("GET", "/api/auth/me", true, None, 200),
        ("GET", "/api/conversations", false, None, 401),
        ("GET", "/nowhere", false, None, 404),
        ("GET", "/api/conversations/%FF%FE", true, None, 404),
        ("DELETE", "/info", false, None, 405),
        (
            "POST",
            "/api/conversations",
            true,
            Some(json_body("{not json")),
            400,
        ),
        ("GET", "/api/conversations?limit=abc", true, None, 400),
        (
            "POST",
            "/api/auth/login",
            false,
            Some(("text/plain", "hi")),
            415,
        ),
    ];

    for (method, path, signed_in, body, status) in cases {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or_default();
        let mut req = app.client.request(method.clone(), app.at(path));
        if signed_in {
            req = req.header("authorization", &bearer);
        }
        if let Some((content_type, body)) = body {
            req = req.header("content-type", content_type).body(body);
        }
        let resp = req.go().await;
        assert_eq!(resp.status().as_u16(), status, "{method} {path}");
        expect_stated_length(resp, status).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_id_is_echoed_when_sane_and_replaced_otherwise() {
    let app = spawn_app().await;

    let sane = app
        .get("/nowhere")
        .header("x-request-id", "client-id_1.2-3")
        .go()
        .await;
    let body = expect_error(sane, 404, "NOT_FOUND").await;
    assert_eq!(body["request_id"], "client-id_1.2-3");

    for bad in ["has space", "semi;colon", &"a".repeat(129)] {
        let resp = app.get("/nowhere").header("x-request-id", bad).go().await;
        let body = expect_error(resp, 404, "NOT_FOUND").await;
        let id = &text_at(&body, "/request_id");
        assert_ne!(id, bad);
        assert!(!id.is_empty() && id.len() <= 128);
    }

    let a = app.get("/health").go().await;
    let b = app.get("/health").go().await;
    assert_ne!(
        a.headers().get("x-request-id"),
        b.headers().get("x-request-id")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_get_the_404_envelope_in_every_family() {
    let app = spawn_app().await;

    for path in [
        "/nowhere",
        "/v2/chat/completions",
        "/api",
        "/api/unknown/thing",
        "/health/nope",
        "/api/auth/nope",
        "/api/admin/nope",
        "/api/conversations/x/nope/y",
        "/api/chat/nope",
        "/api/chat/0123456789abcdef0123456789abcdef/nope",
        "/api/shared/x/y",
        "/.env",
    ] {
        let resp = app.get(path).go().await;
        expect_error(resp, 404, "NOT_FOUND").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_method_is_405_with_allow() {
    let app = spawn_app().await;

    for (method, path) in [
        ("POST", "/health"),
        ("DELETE", "/info"),
        ("PUT", "/openapi.json"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or_default();
        let resp = app.client.request(method, app.at(path)).go().await;
        let allow = header(&resp, "allow").unwrap_or_default();
        assert!(allow.contains("GET"), "{path}: allow = {allow:?}");
        expect_error(resp, 405, "METHOD_NOT_ALLOWED").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_must_be_json_and_within_the_limit() {
    let app = spawn_app().await;
    let route = "/api/auth/register";

    let not_json = app
        .post(route)
        .header("content-type", "text/plain")
        .body("username=a")
        .go()
        .await;
    expect_error(not_json, 415, "UNSUPPORTED_MEDIA_TYPE").await;

    let no_type = app.post(route).body("{\"username\":\"a\"}").go().await;
    expect_error(no_type, 415, "UNSUPPORTED_MEDIA_TYPE").await;

    for bad in [
        "{",
        "{\"username\": }",
        "[1,]",
        "nul",
        "{\"a\":1} {\"b\":2}",
    ] {
        let resp = app
            .post(route)
            .header("content-type", "application/json")
            .body(bad)
            .go()
            .await;
        expect_error(resp, 400, "INVALID_JSON").await;
    }

    let big = format!("{{\"username\":\"{}\"}}", "x".repeat(300 * 1024));
    let too_large = app
        .post(route)
        .header("content-type", "application/json")
        .body(big)
        .go()
        .await;
    let body = expect_error(too_large, 413, "PAYLOAD_TOO_LARGE").await;
    assert_eq!(body["error"]["details"]["limit_bytes"], 262144);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_limit_follows_its_variable_even_without_content_length() {
    let app = spawn_app_with(AppConfig {
        variables: vec![("body_limit_bytes".into(), "1024".into())],
        ..AppConfig::default()
    })
    .await;
    if app.skip_external("settings of its own (body_limit_bytes)") {
        return;
    }
    // A chunked body declares no length: the limit must hold while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b' '; 256])).collect();
    let resp = app
        .post("/api/auth/register")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .go()
        .await;
    expect_error(resp, 413, "PAYLOAD_TOO_LARGE").await;
}

/// A client that sends a body over the limit hears the 413, not a cut connection: the app
/// reads (and drops) the rest of the body before it answers. Under Spin, a response sent while
/// the client was still sending reached it in 29 of 33 tries at 300 KiB and 0 of 5 at 2 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_limit_body_always_gets_its_413() {
    let app = spawn_app().await;
    let user = test_support::testing::TestUser::registered(&app).await;
    let client = reqwest::Client::new();

    for size in [300 * 1024, 2 << 20] {
        let body = format!("{{\"title\":\"{}\"}}", "x".repeat(size));
        let mut heard = 0;
        let mut failures = Vec::new();
        for _ in 0..100 {
            let sent = client
                .post(app.at("/api/conversations"))
                .bearer_auth(&user.access_token)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(resp) if resp.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    let v = json(resp).await;
                    assert_eq!(v["error"]["code"], "PAYLOAD_TOO_LARGE", "{v}");
                    heard += 1;
                }
                Ok(resp) => failures.push(format!("status {}", resp.status())),
                Err(e) => failures.push(format!("{e:?}")),
            }
        }
        assert_eq!(
            heard,
            100,
            "{size} bytes: {:?}",
            &failures[..failures.len().min(3)]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_is_answered_for_allowed_origins_only() {
    let app = spawn_app_with(AppConfig {
        variables: vec![("cors_origins".into(), "https://app.example.com".into())],
        ..AppConfig::default()
    })
    .await;
    if app.skip_external("settings of its own (cors_origins)") {
        return;
    }
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.at("/api/conversations"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };

    let ok = preflight("https://app.example.com")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    let h = ok.headers();
    assert_eq!(
        h.get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://app.example.com")
    );
    let methods = h
        .get("access-control-allow-methods")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        methods.contains("POST") && methods.contains("PATCH"),
        "{methods}"
    );
    assert!(h.contains_key("x-request-id"));

    let denied = preflight("https://evil.example.com")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!denied.headers().contains_key("access-control-allow-origin"));
    expect_error(denied, 403, "FORBIDDEN").await;

    // Simple requests from an allowed origin get the headers; others do not.
    let simple = app
        .get("/health")
        .header("origin", "https://app.example.com")
        .go()
        .await;
    assert_eq!(
        simple
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://app.example.com")
    );
    let other = app
        .get("/health")
        .header("origin", "https://evil.example.com")
        .go()
        .await;
    assert!(!other.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_lists_every_route_family() {
    let app = spawn_app().await;

    let resp = app.get("/openapi.json").go().await;

    assert_eq!(resp.status(), StatusCode::OK);
    let doc = json(resp).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    for path in [
        "/health",
        "/health/ready",
        "/info",
        "/metrics",
        "/openapi.json",
        "/api/auth/register",
        "/api/auth/login",
        "/api/admin/users",
        "/api/conversations",
        "/api/shared/{token}",
        "/api/chat/{conversation_id}/messages",
        "/api/models",
        "/api/models/pull",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from /openapi.json"
        );
    }
}

async fn assert_migrations_applied_once(app: &TestApp) {
    let Some(db) = app.database_path() else {
        return;
    };
    let conn = rusqlite::Connection::open(db).unwrap_or_else(|e| panic!("{e}"));
    let rows: Vec<(i64, String)> = conn
        .prepare("SELECT version, checksum FROM schema_migrations ORDER BY version")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let versions: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let expected: Vec<i64> = chat_core_versions();
    assert_eq!(versions, expected, "each migration exactly once");
    let installed: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM app_meta WHERE key = 'installed_at'",
            [],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(installed, 1);
}

/// The migration versions in migrations/ (file names `NNNN_*.sql`).
fn chat_core_versions() -> Vec<i64> {
    let dir = test_support::testing::workspace_dir().join("migrations");
    let mut versions: Vec<i64> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    name.strip_suffix(".sql")?.split('_').next()?.parse().ok()
                })
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions
}

/// Sends `n` readiness probes at once; each must find the database working.
async fn all_ready_at_once(app: &TestApp, n: usize) {
    let requests = (0..n).map(|_| app.get("/health/ready").send());
    let responses = futures::future::join_all(requests).await;
    for resp in responses {
        let resp = resp.unwrap_or_else(|e| panic!("{e}"));
        let status = resp.status();
        let body = json(resp).await;
        assert_eq!(status, StatusCode::OK, "{body}\n{}", app.component_logs());
        assert_eq!(body["checks"]["sqlite"]["status"], "ok", "{body}");
    }
}

async fn twenty_concurrent_first_requests(reuse: ReuseConfig) {
    let app = spawn_app_with(AppConfig {
        reuse: Some(reuse),
        ..AppConfig::default()
    })
    .await;
    if app.skip_external("instance reuse of its own") {
        return;
    }

    all_ready_at_once(&app, 20).await;
    assert_migrations_applied_once(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_apply_exactly_once_under_concurrent_first_requests_in_shared_instances() {
    twenty_concurrent_first_requests(ReuseConfig::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_apply_exactly_once_under_concurrent_first_requests_one_instance_each() {
    twenty_concurrent_first_requests(ReuseConfig::one_request_per_instance()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_instance_serves_more_requests_at_once_than_it_has_idle_connections() {
    // Arrange: one request warms an instance (migrated, one idle connection).
    let app = spawn_app().await;
    let warm = app.get("/health/ready").go().await;
    assert_eq!(warm.status(), StatusCode::OK);

    // Act and assert: twelve at once on that instance; all but one open a connection of
    // their own.
    all_ready_at_once(&app, 12).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_applied_migration_is_refused_loudly() {
    // A database where migration 1 was applied from different contents.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap_or_else(|e| panic!("{e}"));
    let conn =
        rusqlite::Connection::open(state.join("sqlite_db.db")).unwrap_or_else(|e| panic!("{e}"));
    conn.execute_batch(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL);
         INSERT INTO schema_migrations VALUES (1, '0001_foundation.sql', 'edited-after-apply', '2026-01-01T00:00:00Z');",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    drop(conn);
    let app = spawn_app_with(AppConfig {
        state_dir: Some(state),
        ..AppConfig::default()
    })
    .await;
    if app.skip_external("a state directory of its own") {
        return;
    }

    let resp = app.get("/health/ready").go().await;

    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = json(resp).await;
    assert_eq!(body["checks"]["sqlite"]["status"], "error");
    assert!(
        !body.to_string().contains("checksum"),
        "details stay in the log"
    );
    let logs = app.component_logs();
    assert!(
        logs.contains("0001_foundation.sql was changed after it was applied"),
        "the log must say why: {logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_requests_to_hosts_not_allowed_are_refused() {
    // The same app, but health may reach no host at all.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let manifest = manifest_variant(dir.path(), |text| {
        let health = text.find("[component.health]").unwrap_or(0);
        let (head, tail) = text.split_at(health);
        format!(
            "{head}{}",
            tail.replacen(
                "allowed_outbound_hosts = [\"{{ ollama_url }}\", \"{{ ollama_url_two }}\", \"{{ ollama_url_three }}\", \"{{ ollama_url_four }}\"]",
                "allowed_outbound_hosts = []",
                1
            )
        )
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let app = spawn_app_with(AppConfig {
        manifest: Some(manifest),
        ..AppConfig::default()
    })
    .await;
    if app.skip_external("a manifest of its own") {
        return;
    }

    let resp = app.get("/health/ready").go().await;

    let body = json(resp).await;
    assert_eq!(body["checks"]["ollama"]["status"], "error", "{body}");
    let ollama = app.ollama.as_ref().unwrap_or_else(|| panic!("fake ollama"));
    assert!(
        ollama.requests().is_empty(),
        "the request must not leave the host: {:?}",
        ollama.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spin_well_known_health_is_served_by_the_host() {
    let app = spawn_app().await;

    let resp = app.get("/.well-known/spin/health").go().await;

    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(text(resp).await, "OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_has_every_route_of_the_contract() {
    // The project's API reference (docs/API.md, the contract's routes as this build serves
    // them) must be there, and every route in it must be in /openapi.json.
    let reference = test_support::testing::workspace_dir().join("docs/API.md");
    let text = std::fs::read_to_string(&reference)
        .unwrap_or_else(|e| panic!("{}: {e}", reference.display()));
    let app = spawn_app().await;
    let doc = json(app.get("/openapi.json").go().await).await;

    let mut routes = Vec::new();
    for piece in text.split('`') {
        let mut words = piece.split_whitespace();
        if let (Some(method), Some(path), None) = (words.next(), words.next(), words.next())
            && ["GET", "POST", "PATCH", "DELETE", "PUT"].contains(&method)
            && path.starts_with('/')
        {
            routes.push((
                method.to_ascii_lowercase(),
                path.split('?').next().unwrap_or(path).to_string(),
            ));
        }
    }

    assert!(
        routes.len() >= 40,
        "parsed only {} routes from API.md",
        routes.len()
    );
    for (method, path) in routes {
        assert!(
            doc["paths"][&path][&method].is_object(),
            "{method} {path} is in docs/API.md but not in /openapi.json"
        );
    }
}

/// The options Ollama knows are typed twice: where the app checks them (chat-core) and in
/// the OpenAPI document (written by scripts/openapi.py). A client generated from the document
/// must not be told a type the app then refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_types_the_options_ollama_knows_as_the_app_checks_them() {
    let app = spawn_app().await;
    let doc = json(app.get("/openapi.json").go().await).await;
    let documented = doc["components"]["schemas"]["ModelOptions"]["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();

    let checked: Vec<(&str, &str)> = chat_domain::conversation::known_option_types().collect();

    assert_eq!(
        documented.len(),
        checked.len(),
        "documented: {:?}",
        documented.keys().collect::<Vec<_>>()
    );
    for (name, json_type) in checked {
        let schema = &documented[name];
        assert_eq!(schema["type"], json_type, "options.{name}: {schema}");
        if json_type == "array" {
            assert_eq!(
                schema["items"]["type"], "string",
                "options.{name}: {schema}"
            );
        }
    }
}
