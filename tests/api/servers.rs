//! Black-box tests of "Several Ollama servers" (API.md 1.1), with several fake Ollamas: answers
//! spread over equal servers, failover past a refusing, a failing and a silent server without
//! the client noticing, cooldowns shared by instances, model-aware routing, the union model
//! list, pull and delete per server, the admin view and readiness.

use reqwest::Method;
use serde_json::{Value, json};
use spin_test_host::ReuseConfig;
use std::time::{Duration, Instant};
use test_support::fake_ollama::{FakeModel, FakeOllama, FaultMode};
use test_support::testing::{
    Api, AppConfig, SendExt, TestApp, eventually, expect, expect_error, items, spawn_app_with,
};

/// An app whose servers are the test's own fake (`ollama_url`) and `others`, listed in
/// `ollama_urls` in the order given by `order` (indexes: 0 is the app's fake, 1.. `others`),
/// each allowed through a manifest slot unless named in `unallowed`.
struct Fleet {
    app: TestApp,
}

async fn fleet(
    others: &[String],
    order: &[usize],
    unallowed: &[usize],
    vars: &[(&str, &str)],
    reuse: Option<ReuseConfig>,
) -> Option<Fleet> {
    // Started here, not by spawn_app: `ollama_urls` must name it.
    let own = FakeOllama::start().await.ok()?;
    let urls: Vec<String> = std::iter::once(own.url())
        .chain(others.iter().cloned())
        .collect();
    let listed: Vec<&str> = order.iter().map(|&i| urls[i].as_str()).collect();
    let mut variables: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    variables.push(("ollama_urls".into(), listed.join(",")));
    // The slots after `ollama_url` (Spin's variable names: each word starts with a letter).
    let slots = ["ollama_url_two", "ollama_url_three", "ollama_url_four"];
    for (slot, i) in (1..urls.len())
        .filter(|i| !unallowed.contains(i))
        .enumerate()
    {
        variables.push((slots[slot].to_string(), urls[i].clone()));
    }
    variables.push(("default_model".into(), "llama3.2:1b".into()));
    let mut app = spawn_app_with(AppConfig {
        variables,
        ollama_url: Some(own.url()),
        reuse,
        ..AppConfig::default()
    })
    .await;
    if app.skip_external("fake Ollamas of its own") {
        return None;
    }
    app.ollama = Some(own);
    Some(Fleet { app })
}

fn chats(fake: &FakeOllama) -> usize {
    fake.chat_streams().len()
}

/// A conversation with a title (so no title request joins the answer's).
async fn titled(api: &Api<'_>) -> String {
    api.conversation(json!({"title": "t"})).await
}

async fn ask(api: &Api<'_>, id: &str, model: Option<&str>) -> Value {
    let mut body = json!({"content": "hello", "stream": false});
    if let Some(m) = model {
        body["model"] = m.into();
    }
    expect(api.send(id, body).await, 201).await
}

#[tokio::test]
async fn thirty_answers_at_once_split_evenly_over_two_servers() {
    // Arrange: two equal servers that hold every answer until all thirty have reached them,
    // so each call is placed while all the earlier ones are running, however slow the
    // machine.
    let b = FakeOllama::start().await.expect("fake");
    let vars = [
        ("max_concurrent_generations", "40"),
        ("rate_limit_chat", "0"),
    ];
    let Some(f) = fleet(&[b.url()], &[0, 1], &[], &vars, None).await else {
        return;
    };
    let a = f.app.fake();
    for fake in [a, &b] {
        fake.set_tokens(5);
        fake.hold_chats();
    }
    let api = Api::new(&f.app).await;
    let mut ids = Vec::new();
    for _ in 0..30 {
        ids.push(titled(&api).await);
    }

    // Act: thirty answers at once; once all thirty calls are held at the servers, they go.
    let asks = futures::future::join_all(ids.iter().map(|id| ask(&api, id, None)));
    let (answers, (held_a, held_b)) = futures::join!(asks, async {
        let held = eventually("thirty calls held at the two servers", async || {
            let (na, nb) = (a.chat_streams().len(), b.chat_streams().len());
            (na + nb == 30).then_some((na, nb))
        })
        .await;
        a.release_chats();
        b.release_chats();
        held
    });

    // Assert: every answer came, and the thirty running at once were split evenly.
    assert_eq!(answers.len(), 30);
    assert!(
        answers
            .iter()
            .all(|a| a["assistant_message"]["status"] == "complete"),
        "{answers:?}"
    );
    assert!(
        held_a.abs_diff(held_b) <= 2,
        "running at once: {held_a} / {held_b}"
    );
}

/// `GET /api/admin/ollama` shows each of `failed` cooling with its last error, and `good`
/// up with its models, nothing running, its version and latency.
async fn assert_admin_view(admin: &Api<'_>, failed: &[(&str, &str)], good: &str) {
    let view = expect(admin.get("/api/admin/ollama").await, 200).await;
    let servers = items(&view);
    let by_url = |url: &str| {
        servers
            .iter()
            .find(|s| s["url"] == url)
            .cloned()
            .unwrap_or_else(|| panic!("{url} missing from {view}"))
    };
    for (url, error) in failed {
        let s = by_url(url);
        assert_eq!(s["status"], "cooling", "{s}");
        assert_eq!(s["last_error"], *error, "{s}");
        assert!(s["cooling_until"].is_string(), "{s}");
    }
    let good = by_url(good);
    assert_eq!(good["status"], "up", "{good}");
    assert_eq!(good["models"], json!(["llama3.2:1b", "qwen3:0.6b"]));
    assert_eq!(good["running"], 0);
    assert!(
        good["version"].is_string() && good["latency_ms"].is_number(),
        "{good}"
    );
}

#[tokio::test]
async fn refused_failing_and_silent_servers_are_failed_over_unnoticed_and_cool_down_for_every_instance()
 {
    // Arrange: the preferred servers refuse, answer 500, and say nothing past the timeout;
    // the last one works. Every request gets an instance of its own.
    let refused = FakeOllama::refused_url().await;
    let failing = FakeOllama::start().await.expect("fake");
    failing.set_fault(FaultMode::ChatServerError);
    let silent = FakeOllama::start().await.expect("fake");
    silent.set_fault(FaultMode::SlowFirstByte(Duration::from_secs(4)));
    let others = [refused.clone(), failing.url(), silent.url()];
    let vars = [
        ("ollama_timeout_seconds", "1"),
        ("ollama_cooldown_seconds", "60"),
    ];
    let fresh = Some(ReuseConfig::one_request_per_instance());
    let Some(f) = fleet(&others, &[1, 2, 3, 0], &[], &vars, fresh).await else {
        return;
    };
    let api = Api::new(&f.app).await;
    let admin = &api; // the first user is the admin
    let id = titled(&api).await;

    // Act: one streamed question.
    let resp = api.send(id.as_str(), json!({"content": "hello"})).await;

    // Assert: one answer, no error event; the question is stored once.
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.expect("body");
    assert!(
        body.contains("event: done") && !body.contains("event: error"),
        "{body}"
    );
    let messages = api.messages(&id).await;
    let roles: Vec<&str> = messages.iter().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(roles, ["user", "assistant"]);
    assert_eq!(messages[1]["status"], "complete");
    assert_eq!(chats(f.app.fake()), 1);
    assert_eq!((chats(&failing), chats(&silent)), (1, 1));

    // A second question, in another instance: the failed servers are skipped.
    let started = Instant::now();
    ask(&api, &id, None).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "waited for a cooling server"
    );
    assert_eq!((chats(&failing), chats(&silent)), (1, 1));
    assert_eq!(chats(f.app.fake()), 2);

    // The admin view says what happened to each server.
    let failed = [
        (refused.as_str(), "unreachable"),
        (&failing.url(), "server error (5xx)"),
        (&silent.url(), "no answer within the timeout"),
    ];
    assert_admin_view(admin, &failed, &f.app.fake().url()).await;

    // Readiness lists every server; one refusing makes the app degraded, not down.
    let ready = expect(f.app.get("/health/ready").go().await, 200).await;
    assert_eq!(ready["status"], "degraded");
    assert_eq!(ready["checks"]["ollama"]["status"], "ok");
    let listed = ready["checks"]["ollama"]["servers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(listed.len(), 4, "{ready}");
    let refused_line = listed.iter().find(|s| s["url"] == refused.as_str());
    assert_eq!(
        refused_line.map(|s| s["status"].clone()),
        Some(json!("down"))
    );
}

#[tokio::test]
async fn a_model_on_one_server_goes_there_and_the_list_is_the_union() {
    // Arrange: the second server has only `solo:1b`.
    let b = FakeOllama::start().await.expect("fake");
    b.set_models(vec![FakeModel::new(
        "solo:1b", 1000, "llama", "1B", "Q4_0", false,
    )]);
    let Some(f) = fleet(&[b.url()], &[0, 1], &[], &[], None).await else {
        return;
    };
    let a = f.app.fake();
    let api = Api::new(&f.app).await;
    let id = titled(&api).await;

    // Act and assert: `solo:1b` always goes to the second server, the others to the first.
    for _ in 0..3 {
        let answer = ask(&api, &id, Some("solo:1b")).await;
        assert_eq!(answer["assistant_message"]["model"], "solo:1b");
    }
    ask(&api, &id, Some("qwen3:0.6b")).await;
    assert_eq!((chats(a), chats(&b)), (1, 3));
    // Regenerate, and the title of a new conversation, go where the model is too.
    let again = api
        .post(
            &format!("/api/chat/{id}/regenerate"),
            &json!({"model": "solo:1b", "stream": false}),
        )
        .await;
    expect(again, 201).await;
    assert_eq!((chats(a), chats(&b)), (1, 4));
    let untitled = api.conversation(json!({})).await;
    ask(&api, &untitled, Some("solo:1b")).await;
    let titled_now = eventually("a title", async || {
        let c = api.conversation_of(&untitled).await;
        c["title"].as_str().map(str::to_string)
    })
    .await;
    assert!(!titled_now.is_empty());
    assert_eq!((chats(a), chats(&b)), (1, 6), "the answer and its title");
    // `/v1` routes alike.
    let v1 = api
        .req(Method::POST, "/v1/chat/completions")
        .json(&json!({"model": "solo:1b", "messages": [{"role": "user", "content": "hi"}]}))
        .go()
        .await;
    assert_eq!(v1.status(), 200);
    assert_eq!(chats(&b), 7);
    let missing = api
        .send(&id, json!({"content": "x", "model": "nowhere:1b"}))
        .await;
    expect_error(missing, 404, "MODEL_NOT_FOUND").await;

    let list = expect(api.get("/api/models").await, 200).await;
    let servers_of = |name: &str| {
        items(&list)
            .iter()
            .find(|m| m["name"] == name)
            .map(|m| m["servers"].clone())
    };
    assert_eq!(servers_of("solo:1b"), Some(json!([b.url()])));
    assert_eq!(servers_of("llama3.2:1b"), Some(json!([a.url()])));
    let show = expect(api.get("/api/models/solo:1b").await, 200).await;
    assert_eq!(show["name"], "solo:1b");
}

#[tokio::test]
async fn pull_and_delete_act_on_every_server_or_the_one_named() {
    let b = FakeOllama::start().await.expect("fake");
    let Some(f) = fleet(&[b.url()], &[0, 1], &[], &[], None).await else {
        return;
    };
    let a = f.app.fake();
    let admin = Api::new(&f.app).await;
    let has = |fake: &FakeOllama, name: &str| fake.models().iter().any(|m| m.name == name);

    // Pull to all: progress from each server, in order, then `done`.
    let pull = |query: &str| {
        admin
            .req(Method::POST, &format!("/api/models/pull{query}"))
            .json(&json!({"name": "tinyllama"}))
    };
    let events = pull("").go().await.text().await.expect("events");
    assert!(
        events.trim_end().ends_with(r#"data: {"status":"success"}"#),
        "{events}"
    );
    let first_b = events
        .find(&b.url())
        .expect("progress from the second server");
    let last_a = events
        .rfind(&format!("\"server\":\"{}\"", a.url()))
        .expect("from the first");
    assert!(last_a < first_b, "servers pulled one after another");
    assert!(has(a, "tinyllama:latest") && has(&b, "tinyllama:latest"));

    // Delete from one server, then from the rest.
    let del = |query: String| {
        admin.req(
            Method::DELETE,
            &format!("/api/models/tinyllama:latest{query}"),
        )
    };
    assert_eq!(del(format!("?server={}", b.url())).go().await.status(), 204);
    assert!(has(a, "tinyllama:latest") && !has(&b, "tinyllama:latest"));
    assert_eq!(del(String::new()).go().await.status(), 204);
    assert!(!has(a, "tinyllama:latest"));
    expect_error(del(String::new()).go().await, 404, "MODEL_NOT_FOUND").await;

    // Pull to one server only; a server not configured is refused.
    let one = pull(&format!("?server={}", b.url()))
        .go()
        .await
        .text()
        .await
        .expect("events");
    assert!(!one.contains(&a.url()), "{one}");
    assert!(has(&b, "tinyllama:latest") && !has(a, "tinyllama:latest"));
    let elsewhere = pull("?server=http://example.com:11434").go().await;
    let e = expect_error(elsewhere, 400, "VALIDATION_ERROR").await;
    assert_eq!(e["error"]["details"]["field"], "server");
}

#[tokio::test]
async fn a_listed_server_not_allowed_by_the_manifest_is_never_reached_and_reported() {
    // Arrange: a server in `ollama_urls` without a manifest slot: Spin denies the request.
    let b = FakeOllama::start().await.expect("fake");
    let Some(f) = fleet(&[b.url()], &[1, 0], &[1], &[], None).await else {
        return;
    };
    let api = Api::new(&f.app).await;
    let id = titled(&api).await;

    // Act: a question, with the unallowed server preferred.
    ask(&api, &id, None).await;

    // Assert: it was answered by the allowed one; nothing reached the other.
    assert_eq!(chats(f.app.fake()), 1);
    assert!(b.requests().is_empty(), "{:?}", b.requests());
    let view = expect(api.get("/api/admin/ollama").await, 200).await;
    let line = items(&view)
        .into_iter()
        .find(|s| s["url"] == b.url())
        .expect("listed");
    assert_ne!(line["status"], "up", "{line}");
    assert_eq!(line["last_error"], "unreachable");
}

#[tokio::test]
async fn stop_ends_an_answer_running_on_another_server_from_another_instance() {
    let b = FakeOllama::start().await.expect("fake");
    b.set_models(vec![FakeModel::new(
        "solo:1b", 1000, "llama", "1B", "Q4_0", false,
    )]);
    b.set_tokens(500);
    b.set_token_delay(Duration::from_millis(20));
    let fresh = Some(ReuseConfig::one_request_per_instance());
    let Some(f) = fleet(&[b.url()], &[0, 1], &[], &[], fresh).await else {
        return;
    };
    let api = Api::new(&f.app).await;
    let id = titled(&api).await;
    let mut stream = api
        .send(&id, json!({"content": "long", "model": "solo:1b"}))
        .await;
    assert_eq!(stream.status(), 200);
    let _ = stream.chunk().await;

    let stopped = api.post(&format!("/api/chat/{id}/stop"), &json!({})).await;

    assert_eq!(stopped.status(), 204);
    let messages = api.messages(&id).await;
    assert_eq!(messages[1]["status"], "incomplete", "{:?}", messages[1]);
    assert!(b.chat_streams()[0].client_gone || !b.chat_streams()[0].finished);
}

#[tokio::test]
async fn answers_left_by_an_instance_that_died_stop_counting_after_the_stale_window() {
    // Arrange: two servers; an instance that died mid-answer left three answers registered
    // on the first, with a fresh heartbeat.
    let b = FakeOllama::start().await.expect("fake");
    let Some(f) = fleet(&[b.url()], &[0, 1], &[], &[], None).await else {
        return;
    };
    let (Some(clock), Some(db)) = (f.app.clock(), f.app.database_path()) else {
        return;
    };
    let a = f.app.fake();
    let api = Api::new(&f.app).await;
    let id = titled(&api).await;
    let conn = rusqlite::Connection::open(db).expect("database");
    for n in 0..3 {
        conn.execute(
            "INSERT INTO generations
                    (id, user_id, conversation_id, started_at, heartbeat_at, server)
             VALUES (?1, 'gone', '', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                     strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?2)",
            [format!("dead-{n}"), a.url()],
        )
        .expect("insert");
    }
    let running = async |url: &str| {
        let view = expect(api.get("/api/admin/ollama").await, 200).await;
        items(&view)
            .into_iter()
            .find(|s| s["url"] == url)
            .map(|s| s["running"].clone())
    };

    // Act and assert: while their heartbeat is fresh they count, and answers go elsewhere.
    assert_eq!(running(&a.url()).await, Some(json!(3)));
    ask(&api, &id, None).await;
    assert_eq!((chats(a), chats(&b)), (0, 1));

    // Past the stale window (the Ollama timeout, 60 s, plus 30 s) they no longer count.
    clock.set(clock.now() + Duration::from_secs(91));
    assert_eq!(running(&a.url()).await, Some(json!(0)));
    ask(&api, &id, None).await;
    assert_eq!((chats(a), chats(&b)), (1, 1));
}
