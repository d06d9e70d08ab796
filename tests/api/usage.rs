//! Black-box tests of "Usage and quotas" in API.md: every kind of answer counted with the fake
//! Ollama's exact numbers, reports grouped and scoped to their user, quotas (the user's, a
//! key's, an admin's edits) refusing before Ollama is asked, racing questions, and the reset
//! at UTC midnight (on the test host's clock).

use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use test_support::fake_ollama::FaultMode;
use test_support::testing::{
    Api, AppConfig, SendExt, TestApp, eventually, expect, expect_error, expect_openai_error,
    header, items, spawn_app_with, text_at,
};

async fn usage_app(vars: &[(&str, &str)]) -> Option<TestApp> {
    let app = spawn_app_with(AppConfig::with_vars(vars)).await;
    (!app.skip_external("a fresh database and the fake Ollama")).then_some(app)
}

/// A titled conversation (so no title is asked of the model) with a 4-character question:
/// the fake counts 1 prompt token and, by default, 50 completion tokens.
async fn ask(user: &Api<'_>) -> reqwest::Response {
    let id = user
        .conversation(json!({"title": "t", "model": "llama3.2:1b"}))
        .await;
    user.send(&id, json!({"content": "abcd", "stream": false}))
        .await
}

fn v1_ask() -> Value {
    json!({"model": "llama3.2:1b", "messages": [{"role": "user", "content": "abcd"}]})
}

async fn usage(user: &Api<'_>, query: &str) -> Value {
    expect(user.get(&format!("/api/usage{query}")).await, 200).await
}

#[tokio::test]
async fn every_kind_of_answer_is_counted_with_ollamas_numbers() {
    let Some(app) = usage_app(&[]).await else {
        return;
    };
    let user = Api::new(&app).await;

    expect(ask(&user).await, 201).await;
    let id = user
        .conversation(json!({"title": "t", "model": "llama3.2:1b"}))
        .await;
    let streamed = user.send(&id, json!({"content": "abcd"})).await;
    assert_eq!(streamed.status(), 200);
    test_support::testing::text(streamed).await;
    expect(user.post("/v1/chat/completions", &v1_ask()).await, 200).await;
    let embed = json!({"model": "llama3.2:1b", "input": "abcd"});
    expect(user.post("/v1/embeddings", &embed).await, 200).await;
    // An untitled conversation's first exchange also asks the model for a title.
    let untitled = user.conversation(json!({"model": "llama3.2:1b"})).await;
    expect(
        user.send(&untitled, json!({"content": "abcd", "stream": false}))
            .await,
        201,
    )
    .await;

    let report = eventually(
        "the streamed answer and the title to be counted",
        async || {
            let r = usage(&user, "").await;
            (r["totals"]["requests"] == 6).then_some(r)
        },
    )
    .await;
    let today = &items(&report)[0];
    assert_eq!(
        report["items"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    // 4 answers × 50 + the title's answer (its own 50 from the fake).
    assert_eq!(today["completion_tokens"], 250, "{report}");
    let prompts = today["prompt_tokens"].as_i64().unwrap_or(0);
    assert!(
        prompts >= 5,
        "1 per 4-character question and embedding, more for the title: {report}"
    );
    assert_eq!(
        report["totals"],
        json!({"requests": 6, "prompt_tokens": prompts, "completion_tokens": 250})
    );
    assert_eq!(report["quota"]["tokens_per_day"], Value::Null);
    assert_eq!(report["quota"]["used_today"], prompts + 250);

    // Deleting a conversation keeps its usage.
    expect(user.delete(&format!("/api/conversations/{id}")).await, 204).await;
    assert_eq!(usage(&user, "").await["totals"]["requests"], 6);
}

#[tokio::test]
async fn failed_stopped_and_abandoned_answers_count_what_they_received() {
    let Some(app) = usage_app(&[]).await else {
        return;
    };
    let user = Api::new(&app).await;
    let fake = app.fake();

    fake.set_fault(FaultMode::ErrorMidStream { after: 3 });
    expect_error(ask(&user).await, 502, "UPSTREAM_ERROR").await;
    let failed = eventually("the failed answer to be counted", async || {
        let r = usage(&user, "").await;
        (r["totals"]["requests"] == 1).then_some(r)
    })
    .await;
    assert_eq!(
        failed["totals"]["completion_tokens"], 3,
        "one per content chunk received"
    );

    fake.set_fault(FaultMode::Normal);
    fake.set_tokens(200);
    fake.set_token_delay(Duration::from_millis(20));
    let id = user
        .conversation(json!({"title": "t", "model": "llama3.2:1b"}))
        .await;
    let mut resp = user.send(&id, json!({"content": "abcd"})).await;
    let mut seen = String::new();
    while seen.matches("event: delta").count() < 3 {
        match resp.chunk().await {
            Ok(Some(c)) => seen.push_str(&String::from_utf8_lossy(&c)),
            other => panic!("stream ended early: {other:?}"),
        }
    }
    let stop = user
        .req(Method::POST, &format!("/api/chat/{id}/stop"))
        .go()
        .await;
    assert_eq!(stop.status(), 204);
    let stored = user.messages(&id).await;
    let received = text_at(&stored[1], "/content").matches("tok").count();
    let stopped = eventually("the stopped answer to be counted", async || {
        let r = usage(&user, "").await;
        (r["totals"]["requests"] == 2).then_some(r)
    })
    .await;
    assert_eq!(
        stopped["totals"]["completion_tokens"],
        3 + received,
        "{stopped}"
    );
}

#[tokio::test]
async fn a_spent_daily_quota_refuses_before_ollama_and_an_admin_changes_it_at_once() {
    let Some(app) = usage_app(&[("quota_tokens_per_day", "100")]).await else {
        return;
    };
    let admin = Api::new(&app).await;
    let user = Api::new(&app).await;

    expect(ask(&user).await, 201).await; // 51 tokens
    expect(ask(&user).await, 201).await; // 102: admitted under the quota, may finish past it
    let asked = app.fake().chat_streams().len();
    let id = user.conversation(json!({"title": "t"})).await;
    let refused = user
        .send(&id, json!({"content": "abcd", "stream": false}))
        .await;
    let retry: u64 = header(&refused, "retry-after")
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    assert!((1..=86_400).contains(&retry), "retry-after {retry}");
    let b = expect_error(refused, 429, "QUOTA_EXCEEDED").await;
    let details = &b["error"]["details"];
    assert_eq!(
        (details["limit"].as_i64(), details["used"].as_i64()),
        (Some(100), Some(102))
    );
    assert!(
        text_at(details, "/resets_at").ends_with("T00:00:00Z"),
        "{b}"
    );
    assert_eq!(
        app.fake().chat_streams().len(),
        asked,
        "Ollama was not asked"
    );
    assert!(
        user.messages(&id).await.is_empty(),
        "nothing is stored for a refused question"
    );
    let v1 = user.post("/v1/chat/completions", &v1_ask()).await;
    expect_openai_error(v1, 429, "rate_limit_error", Some("insufficient_quota")).await;
    let quota = &usage(&user, "").await["quota"];
    assert_eq!(quota["tokens_per_day"], 100);
    assert_eq!(quota["used_today"], 102);

    let raise = json!({"quota": {"tokens_per_day": 1000}});
    let path = format!("/api/admin/users/{}", user.user.id);
    let changed = expect(admin.patch(&path, &raise).await, 200).await;
    assert_eq!(
        changed["quota"],
        json!({"tokens_per_day": 1000, "tokens_per_month": null})
    );
    expect(ask(&user).await, 201).await;
    let back = expect(admin.patch(&path, &json!({"quota": null})).await, 200).await;
    assert_eq!(back["quota"]["tokens_per_day"], 100);
    expect_error(ask(&user).await, 429, "QUOTA_EXCEEDED").await;
    // Admins have their own quota like anyone.
    expect(ask(&admin).await, 201).await;
    let bad = admin
        .patch(&path, &json!({"quota": {"tokens_per_day": -1}}))
        .await;
    expect_error(bad, 400, "VALIDATION_ERROR").await;
}

#[tokio::test]
async fn a_keys_budget_and_its_users_quota_each_refuse_on_their_own() {
    let Some(app) = usage_app(&[("quota_tokens_per_day", "200")]).await else {
        return;
    };
    let user = Api::new(&app).await;
    let made = json!({"name": "ci", "max_tokens_per_day": 60});
    let created = expect(user.post("/api/auth/keys", &made).await, 201).await;
    assert_eq!(created["max_tokens_per_day"], 60);
    let key = text_at(&created, "/key");
    let with_key = || {
        app.bearer(&key)
            .req(Method::POST, "/v1/chat/completions")
            .json(&v1_ask())
            .go()
    };

    expect(with_key().await, 200).await;
    expect(with_key().await, 200).await;
    let b = expect_openai_error(
        with_key().await,
        429,
        "rate_limit_error",
        Some("insufficient_quota"),
    )
    .await;
    assert!(text_at(&b, "/error/message").contains("API key"), "{b}");
    // The key's budget is spent; the user's quota (200) still has room.
    expect(ask(&user).await, 201).await;
    let listed = expect(user.get("/api/auth/keys").await, 200).await;
    assert_eq!(listed["items"][0]["max_tokens_per_day"], 60);

    // And the reverse: a key with room, its user's quota spent.
    let roomy = expect(
        user.post(
            "/api/auth/keys",
            &json!({"name": "big", "max_tokens_per_day": 10000}),
        )
        .await,
        201,
    )
    .await;
    let roomy = text_at(&roomy, "/key");
    expect(ask(&user).await, 201).await; // 255 ≥ 200
    let refused = app
        .bearer(&roomy)
        .req(Method::POST, "/v1/chat/completions")
        .json(&v1_ask())
        .go()
        .await;
    let b = expect_openai_error(refused, 429, "rate_limit_error", Some("insufficient_quota")).await;
    assert!(
        text_at(&b, "/error/message").contains("daily token quota"),
        "{b}"
    );
    let zero = user
        .post(
            "/api/auth/keys",
            &json!({"name": "z", "max_tokens_per_day": 0}),
        )
        .await;
    expect_error(zero, 400, "VALIDATION_ERROR").await;
}

#[tokio::test]
async fn racing_questions_overshoot_by_at_most_the_answers_run_at_once() {
    let Some(app) = usage_app(&[
        ("quota_tokens_per_day", "1"),
        ("max_concurrent_generations", "3"),
    ])
    .await
    else {
        return;
    };
    app.fake().set_token_delay(Duration::from_millis(5));
    let user = Api::new(&app).await;
    let mut ids = Vec::new();
    for _ in 0..8 {
        ids.push(
            user.conversation(json!({"title": "t", "model": "llama3.2:1b"}))
                .await,
        );
    }

    let sends = ids
        .iter()
        .map(|id| user.send(id, json!({"content": "abcd", "stream": false})));
    let statuses: Vec<u16> = futures::future::join_all(sends)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();

    let answered = statuses.iter().filter(|s| **s == 201).count();
    assert!((1..=3).contains(&answered), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [201, 429].contains(s)),
        "{statuses:?}"
    );
    let r = usage(&user, "").await;
    assert_eq!(r["totals"]["requests"], answered);
    expect_error(ask(&user).await, 429, "QUOTA_EXCEEDED").await;
}

#[tokio::test]
async fn the_daily_quota_starts_afresh_at_utc_midnight() {
    let Some(app) = usage_app(&[("quota_tokens_per_day", "60")]).await else {
        return;
    };
    let Some(clock) = app.clock() else { return };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let midnight = (now / 86_400 + 1) * 86_400;
    clock.set(UNIX_EPOCH + Duration::from_secs(midnight - 60));
    // Signed in at the app's time, so the token is fresh on both sides of midnight.
    let user = Api::new(&app).await;

    expect(ask(&user).await, 201).await;
    expect(ask(&user).await, 201).await;
    let b = expect_error(ask(&user).await, 429, "QUOTA_EXCEEDED").await;
    let resets_at = text_at(&b, "/error/details/resets_at");
    assert_eq!(
        chat_core::time::to_unix(&resets_at),
        i64::try_from(midnight).ok(),
        "{b}"
    );

    clock.set(UNIX_EPOCH + Duration::from_secs(midnight + 30));
    expect(ask(&user).await, 201).await;
    let days = usage(&user, "?group_by=day").await;
    let per_day: Vec<i64> = items(&days)
        .iter()
        .filter_map(|d| d["requests"].as_i64())
        .collect();
    assert_eq!(per_day, [2, 1], "{days}");
    assert_eq!(days["quota"]["used_today"], 51);
}

#[tokio::test]
async fn reports_group_by_day_model_key_and_user_and_show_only_the_callers() {
    let Some(app) = usage_app(&[]).await else {
        return;
    };
    let admin = Api::new(&app).await;
    let alice = Api::new(&app).await;
    let bob = Api::new(&app).await;
    let created = expect(
        alice.post("/api/auth/keys", &json!({"name": "k"})).await,
        201,
    )
    .await;
    let key = text_at(&created, "/key");
    expect(ask(&alice).await, 201).await;
    let by_key = app
        .bearer(&key)
        .req(Method::POST, "/v1/chat/completions")
        .json(&v1_ask())
        .go()
        .await;
    expect(by_key, 200).await;
    let qwen = json!({"model": "qwen3:0.6b", "messages": [{"role": "user", "content": "abcd"}]});
    expect(alice.post("/v1/chat/completions", &qwen).await, 200).await;
    expect(ask(&bob).await, 201).await;

    let keys = usage(&alice, "?group_by=key").await;
    let ids: Vec<Value> = items(&keys).iter().map(|i| i["key_id"].clone()).collect();
    assert_eq!(ids.len(), 2, "{keys}");
    assert!(
        ids.contains(&Value::Null) && ids.contains(&created["id"]),
        "{keys}"
    );
    let models = usage(&alice, "?group_by=model").await;
    let names: Vec<String> = items(&models)
        .iter()
        .map(|i| text_at(i, "/model"))
        .collect();
    assert_eq!(names, ["llama3.2:1b", "qwen3:0.6b"]);
    assert_eq!(models["totals"]["requests"], 3);
    assert_eq!(usage(&bob, "").await["totals"]["requests"], 1);
    let long_ago = usage(&alice, "?from=2020-01-01&to=2020-01-31").await;
    assert_eq!(long_ago["items"], json!([]));
    assert_eq!(long_ago["totals"]["requests"], 0);

    let everyone = expect(admin.get("/api/admin/usage?group_by=user").await, 200).await;
    let users: Vec<(String, i64)> = items(&everyone)
        .iter()
        .map(|i| (text_at(i, "/username"), i["requests"].as_i64().unwrap_or(0)))
        .collect();
    assert!(
        users.contains(&(alice.user.username.clone(), 3)),
        "{everyone}"
    );
    assert!(
        users.contains(&(bob.user.username.clone(), 1)),
        "{everyone}"
    );
    assert_eq!(everyone["totals"]["requests"], 4);
    expect_error(bob.get("/api/admin/usage").await, 403, "FORBIDDEN").await;
    for bad in [
        "?group_by=user",
        "?from=2026-13-01",
        "?from=2026-02-02&to=2026-02-01",
        "?x=1",
    ] {
        expect_error(
            alice.get(&format!("/api/usage{bad}")).await,
            400,
            "VALIDATION_ERROR",
        )
        .await;
    }

    // Deleting a user deletes their usage.
    expect(
        admin
            .delete(&format!("/api/admin/users/{}", bob.user.id))
            .await,
        204,
    )
    .await;
    let after = expect(admin.get("/api/admin/usage?group_by=user").await, 200).await;
    assert_eq!(after["totals"]["requests"], 3, "{after}");
}
