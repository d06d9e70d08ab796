//! Black-box tests of running with shared stores, as replicas do: two replicas over the same
//! stores (under `SPIN_TEST_HOST_KV=redis` / `SPIN_TEST_HOST_SQLITE=libsql`, the same Redis
//! database and libSQL server), and the key-value store on a real Redis that goes away and
//! comes back under the running app.

use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use test_support::redis_server::RedisServer;
use test_support::testing::{
    Api, AppConfig, SendExt, TestApp, TestUser, expect, expect_error, spawn_app, spawn_app_with,
    spawn_replica,
};

/// An app whose key-value store is `redis` (a runtime config of its own).
async fn app_on(redis: &RedisServer, dir: &std::path::Path) -> Option<TestApp> {
    let file = redis
        .runtime_config_file(dir)
        .unwrap_or_else(|e| panic!("runtime config: {e:#}"));
    let app = spawn_app_with(AppConfig {
        runtime_config: Some(file),
        ..AppConfig::default()
    })
    .await;
    (!app.skip_external("a Redis of its own")).then_some(app)
}

/// A response within `limit`, or the test fails saying the request hung.
async fn answered(req: reqwest::RequestBuilder, limit: Duration) -> reqwest::Response {
    match tokio::time::timeout(limit, req.go()).await {
        Ok(r) => r,
        Err(_) => panic!("no answer within {limit:?}: the request hung on the store"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_key_value_store_down_requests_fail_in_the_envelope_and_recover_when_it_is_back() {
    // Arrange: a signed-in user of an app whose key-value store is a Redis of the test's own.
    let Some(mut redis) = RedisServer::start().await.expect("redis-server") else {
        eprintln!("skipped: needs redis-server (Debian's package; .ci/run installs it)");
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let Some(app) = app_on(&redis, dir.path()).await else {
        return;
    };
    let api = Api::new(&app).await;
    expect(api.me().await, 200).await;
    let bound = Duration::from_secs(10);

    // Act: Redis goes away.
    redis.stop();

    // Assert: readiness says so at once, and a signed-in request is refused in the envelope
    // instead of hanging; `/health` does not touch the store.
    let ready = answered(app.get("/health/ready"), bound).await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["status"], "down");
    assert_eq!(body["checks"]["kv"]["status"], "error", "{body}");
    assert_eq!(body["checks"]["sqlite"]["status"], "ok", "{body}");
    let me = answered(api.req(reqwest::Method::GET, "/api/auth/me"), bound).await;
    assert_eq!(me.status(), 503);
    assert!(me.headers().contains_key("retry-after"));
    let error: Value = me.json().await.expect("envelope");
    assert_eq!(error["error"]["code"], "INTERNAL", "{error}");
    assert!(error["request_id"].is_string());
    expect(app.get("/health").go().await, 200).await;

    // Once it is back, requests succeed again, as soon as the host's Redis client has
    // reconnected. That is Spin's client (the `redis` crate's ConnectionManager with its
    // default retries), which the app cannot hurry: here it took up to two minutes (under
    // Spin, 69 s), every request meanwhile refused at once instead of hanging.
    redis.resume().await.expect("redis back");
    let back = std::time::Instant::now();
    loop {
        let me = answered(api.req(reqwest::Method::GET, "/api/auth/me"), bound).await;
        if me.status() == 200 {
            break;
        }
        assert_eq!(me.status(), 503);
        assert!(
            back.elapsed() < Duration::from_secs(300),
            "still refused 5 minutes after the store came back"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "requests succeeded {:?} after Redis was back",
        back.elapsed()
    );
    let ready = answered(app.get("/health/ready"), bound).await;
    assert_eq!(ready.status(), 200);
}

/// The `ratelimit-remaining` header.
fn remaining(resp: &reqwest::Response) -> Option<u32> {
    resp.headers()
        .get("ratelimit-remaining")?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_the_signing_secret_sign_out_and_rate_limits_exactly() {
    // Arrange: two replicas over the same stores; the signing secret is generated on first use.
    let vars = [("rate_limit_general", "12")];
    let a = spawn_app_with(AppConfig::with_vars(&vars)).await;
    if a.skip_external("replicas of its own") {
        return;
    }
    let Some(b) = spawn_replica(&a, &vars).await else {
        return;
    };
    let alice = TestUser::registered(&a).await;

    // A token from one replica works on the other (one generated secret for both).
    expect(b.bearer(&alice.access_token).get("/api/auth/me").await, 200).await;

    // Requests alternate between replicas: the limit counts them together, exactly.
    let mut served = 1; // the `me` above
    let mut left = Vec::new();
    for n in 0..20 {
        let app = if n % 2 == 0 { &a } else { &b };
        let resp = app.bearer(&alice.access_token).get("/api/auth/me").await;
        if resp.status() == 429 {
            break;
        }
        assert_eq!(resp.status(), 200);
        left.push(remaining(&resp));
        served += 1;
    }
    assert_eq!(served, 12, "remaining after each: {left:?}");

    // Signing out on one replica ends the session on the other at once.
    let mut bob = TestUser::registered(&b).await;
    bob.login(&a).await;
    expect(a.bearer(&bob.access_token).get("/api/auth/me").await, 200).await;
    let out = b
        .bearer(&bob.access_token)
        .req(Method::POST, "/api/auth/logout")
        .json(&json!({"refresh_token": bob.refresh_token}))
        .go()
        .await;
    assert_eq!(out.status(), 204);
    let after = a.bearer(&bob.access_token).get("/api/auth/me").await;
    expect_error(after, 401, "UNAUTHENTICATED").await;
    let refresh = a
        .post("/api/auth/refresh")
        .json(&json!({"refresh_token": bob.refresh_token}))
        .go()
        .await;
    assert_eq!(refresh.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_on_one_replica_ends_an_answer_running_on_the_other() {
    let a = spawn_app().await;
    if a.skip_external("replicas of its own") {
        return;
    }
    let Some(b) = spawn_replica(&a, &[]).await else {
        return;
    };
    a.fake().set_tokens(500);
    a.fake().set_token_delay(Duration::from_millis(20));
    let user = TestUser::registered(&a).await;
    let id = a
        .bearer(&user.access_token)
        .conversation(json!({"title": "t"}))
        .await;
    let mut stream = a
        .bearer(&user.access_token)
        .req(Method::POST, &format!("/api/chat/{id}/messages"))
        .json(&json!({"content": "long"}))
        .go()
        .await;
    assert_eq!(stream.status(), 200);
    let _ = stream.chunk().await;

    let stopped = b
        .bearer(&user.access_token)
        .call(Method::POST, &format!("/api/chat/{id}/stop"))
        .await;

    assert_eq!(stopped.status(), 204);
    let messages = expect(
        b.bearer(&user.access_token)
            .get(&format!("/api/conversations/{id}/messages"))
            .await,
        200,
    )
    .await;
    assert_eq!(messages["items"][1]["status"], "incomplete", "{messages}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cooldown_one_replica_sets_is_honoured_by_the_other() {
    // Arrange: two replicas with two servers, the preferred one failing.
    let failing = test_support::fake_ollama::FakeOllama::start()
        .await
        .expect("fake");
    failing.set_fault(test_support::fake_ollama::FaultMode::ChatServerError);
    let good = test_support::fake_ollama::FakeOllama::start()
        .await
        .expect("fake");
    let (list, second) = (format!("{},{}", failing.url(), good.url()), good.url());
    let vars = [
        ("ollama_urls", list.as_str()),
        ("ollama_url_two", second.as_str()),
        ("default_model", "llama3.2:1b"),
    ];
    let a = spawn_app_with(AppConfig {
        ollama_url: Some(failing.url()),
        ..AppConfig::with_vars(&vars)
    })
    .await;
    if a.skip_external("replicas of its own") {
        return;
    }
    let Some(b) = spawn_replica(&a, &vars).await else {
        return;
    };
    let user = TestUser::registered(&a).await;
    let ask = async |app: &TestApp| {
        let id = app
            .bearer(&user.access_token)
            .conversation(json!({"title": "t"}))
            .await;
        let sent = app
            .bearer(&user.access_token)
            .req(Method::POST, &format!("/api/chat/{id}/messages"))
            .json(&json!({"content": "hi", "stream": false}))
            .go()
            .await;
        expect(sent, 201).await;
    };

    // Act: one answer through each replica.
    ask(&a).await;
    ask(&b).await;

    // Assert: the failing server was asked once, by the first; the second skipped it.
    assert_eq!(failing.chat_streams().len(), 1);
    assert_eq!(good.chat_streams().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_on_either_replica_count_toward_one_limit_and_metrics_agree() {
    // Arrange: two replicas; three failed logins allowed per username.
    let vars = [
        ("login_max_failures", "3"),
        ("login_window_seconds", "3600"),
    ];
    let a = spawn_app_with(AppConfig::with_vars(&vars)).await;
    if a.skip_external("replicas of its own") {
        return;
    }
    let Some(b) = spawn_replica(&a, &vars).await else {
        return;
    };
    let admin = TestUser::registered(&a).await; // the first user is the admin
    let user = TestUser::registered(&b).await;

    // Act: failed logins alternate between the replicas.
    for app in [&a, &b, &a] {
        let failed = user.login_request(app, "not the password at all").await;
        expect_error(failed, 401, "INVALID_CREDENTIALS").await;
    }

    // Assert: the fourth attempt, on the other replica, is over the one limit.
    let limited = user.login_request(&b, &user.password).await;
    expect_error(limited, 429, "RATE_LIMITED").await;
    // And both replicas report the same login counts (one table behind both).
    let logins = async |app: &TestApp| {
        let text = app
            .bearer(&admin.access_token)
            .req(Method::GET, "/metrics")
            .go()
            .await
            .text()
            .await
            .unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with("ollama_chat_logins_total"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let counted =
        test_support::testing::eventually("both replicas' failures counted", async || {
            let (on_a, on_b) = (logins(&a).await, logins(&b).await);
            let failures = on_a
                .iter()
                .any(|l| l.contains("invalid_credentials") && l.ends_with(" 3"));
            (failures && on_a == on_b).then_some(on_a)
        })
        .await;
    assert!(!counted.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_and_chat_limits_count_questions_on_both_replicas_together() {
    // Arrange: two replicas; 100 tokens a day, 3 questions to the model per window.
    let vars = [("quota_tokens_per_day", "100"), ("rate_limit_chat", "3")];
    let a = spawn_app_with(AppConfig::with_vars(&vars)).await;
    if a.skip_external("replicas of its own") {
        return;
    }
    let Some(b) = spawn_replica(&a, &vars).await else {
        return;
    };
    let admin = Api::new(&a).await; // the first user is the admin
    let on_a = Api::new(&a).await;
    let on_b = Api {
        app: &b,
        user: on_a.user.clone(),
    };
    // A titled conversation (no title asked of the model); the fake counts 1 + 50 tokens.
    let ask = async |user: &Api<'_>| {
        let id = user.conversation(json!({"title": "t"})).await;
        user.send(&id, json!({"content": "abcd", "stream": false}))
            .await
    };

    // Act: one answer through each replica spends the quota (51 + 51 tokens)...
    expect(ask(&on_a).await, 201).await;
    expect(ask(&on_b).await, 201).await;
    let refused = ask(&on_a).await;

    // Assert: ...so the next question is refused, on either replica, with both counted.
    let body = expect_error(refused, 429, "QUOTA_EXCEEDED").await;
    assert_eq!(body["error"]["details"]["used"], 102, "{body}");
    for user in [&on_a, &on_b] {
        let usage = expect(user.get("/api/usage").await, 200).await;
        assert_eq!(usage["quota"]["used_today"], 102, "{usage}");
    }
    expect_error(ask(&on_b).await, 429, "QUOTA_EXCEEDED").await;

    // An admin's change on one replica holds on the other at once.
    let path = format!("/api/admin/users/{}", on_a.user.id);
    let raise = json!({"quota": {"tokens_per_day": 1000}});
    expect(admin.patch(&path, &raise).await, 200).await;
    expect(ask(&on_b).await, 201).await;

    // The chat limit counts questions sent to the model on both replicas, not the refused
    // ones: that answer was the third, so the next question, on the other replica, is over.
    let over = ask(&on_a).await;
    expect_error(over, 429, "RATE_LIMITED").await;
}

/// The kv-count probe served with `options`: its URL and what keeps it running. Under
/// `SPIN_BIN`, the probe runs in the real Spin: the host's atomics are checked against Spin's
/// own.
async fn start_probe(options: spin_test_host::UpOptions) -> (String, Box<dyn std::any::Any>) {
    match test_support::spin_bin::spin_bin() {
        Some(bin) => {
            let spin = test_support::spin_bin::SpinProcess::start(&bin, &options)
                .await
                .unwrap_or_else(|e| panic!("{e:#}"));
            (spin.url().to_string(), Box::new(spin))
        }
        None => {
            let app = spin_test_host::up(options)
                .await
                .unwrap_or_else(|e| panic!("{e:#}"));
            (app.url(), Box::new(app))
        }
    }
}

/// Eight clients increment through `url` 25 times each, at once; then one more: what it says.
async fn increment_from_eight_clients(url: &str, store: &str) -> String {
    let http = reqwest::Client::new();
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (http, url, store) = (http.clone(), url.to_string(), store.to_string());
            tokio::spawn(async move {
                for _ in 0..25 {
                    let r = http
                        .get(&url)
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(r.status(), 200, "{store}: {:?}", r.text().await);
                }
            })
        })
        .collect();
    for c in clients {
        c.await.unwrap_or_else(|e| panic!("{e}"));
    }
    let last = http.get(url).send().await.unwrap_or_else(|e| panic!("{e}"));
    last.text().await.unwrap_or_else(|e| panic!("{e}"))
}

/// The key-value store's atomic increment (`wasi:keyvalue/atomics`) as a guest sees it through
/// the test host (or a real Spin, under `SPIN_BIN`): the probe of `bench --kv-count`
/// (bench/probe) counts from 8 clients at once, on Spin's default store and on a real Redis,
/// and every count is there; a compare-and-swap writes, and reports what Spin reports. The app
/// itself counts in the database (docs/BENCHMARKS.md says why); this keeps the host's atomics
/// honest for the day it does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atomics_from_a_guest_count_exactly_and_swap_as_spins_on_both_key_value_stores() {
    if std::env::var_os("APP_URL").is_some() {
        eprintln!("skipped against APP_URL: it serves a probe component of its own");
        return;
    }
    // Arrange
    let probe = test_support::testing::workspace_dir().join("bench/probe/spin.toml");
    spin_test_host::build::build_components(&probe).unwrap_or_else(|e| panic!("{e:#}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let redis = RedisServer::start()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let mut configs = vec![("Spin's default store", None)];
    if let Some(redis) = &redis {
        let file = redis
            .runtime_config_file(dir.path())
            .unwrap_or_else(|e| panic!("{e:#}"));
        configs.push(("Redis", Some(file)));
    } else {
        eprintln!("Redis part skipped: redis-server is not installed");
    }
    for (store, runtime_config) in configs {
        let mut options = spin_test_host::UpOptions::new(&probe);
        options.listen = "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}"));
        options.state_dir = Some(dir.path().join(store.replace(' ', "-")));
        options.runtime_config_file = runtime_config;
        let (base, _running) = start_probe(options).await;
        let url = format!("{base}/increment?key=exact");
        let http = reqwest::Client::new();

        // Act
        let last = increment_from_eight_clients(&url, store).await;

        // Assert
        assert_eq!(last, "201", "{store}: 200 counts and this one");

        // A compare-and-swap adding 1, twice. On Redis Spin reports every swap as failed,
        // although it wrote (its `UNWATCH <key>` is refused by Redis); the host does the same.
        let cas = format!("{base}/cas?key=c");
        let mut seen = Vec::new();
        for _ in 0..2 {
            let r = http
                .get(&cas)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            seen.push(r.text().await.unwrap_or_else(|e| panic!("{e}")));
        }
        let reported = if store == "Redis" {
            "cas-failed"
        } else {
            "swapped"
        };
        assert_eq!(
            seen,
            [format!("{reported} 1"), format!("{reported} 2")],
            "{store}"
        );
    }
}
