//! Black-box tests of the chat section of API.md, against the fake Ollama: the event stream
//! and its pace, what is stored, every failure mode with nothing lost, stop, regenerate,
//! titles, thinking models, the concurrency guard, client disconnects, and the model routes.

use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use test_support::fake_ollama::{FakeOllama, FaultMode};
use test_support::testing::{
    Api, AppConfig, SendExt, TestApp, eventually, expect, expect_error, header, items, spawn_app,
    spawn_app_with, text_at,
};

/// One server-sent event and when it arrived.
#[derive(Debug, Clone)]
struct Event {
    name: String,
    data: Value,
    at: Instant,
}

/// Reads events as they arrive; `take` stops after that many (leaving the stream open).
struct Events {
    resp: reqwest::Response,
    buf: String,
}

impl Events {
    fn new(resp: reqwest::Response) -> Self {
        assert_eq!(resp.status(), 200);
        let ct = header(&resp, "content-type").unwrap_or_default();
        assert_eq!(ct, "text/event-stream");
        Self {
            resp,
            buf: String::new(),
        }
    }

    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(i) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..i + 2).collect();
                let mut name = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        name = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                    }
                }
                return Some(Event {
                    name,
                    data: serde_json::from_str(&data).unwrap_or(Value::Null),
                    at: Instant::now(),
                });
            }
            match tokio::time::timeout(Duration::from_secs(30), self.resp.chunk()).await {
                Ok(Ok(Some(c))) => self.buf.push_str(&String::from_utf8_lossy(&c)),
                Ok(Ok(None)) => return None,
                Ok(Err(e)) => panic!("reading the stream: {e}"),
                Err(_) => panic!("no event within 30 s"),
            }
        }
    }

    async fn all(mut self) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(e) = self.next().await {
            out.push(e);
        }
        out
    }
}

fn names(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.name.as_str()).collect()
}

fn tokens(n: usize) -> String {
    (0..n).map(|i| format!("tok{i} ")).collect()
}

/// The app and the fake Ollama it talks to, or `None` against `APP_URL` (every test here
/// checks what the fake received or sent, or sets its pace and faults).
async fn chat_app() -> Option<TestApp> {
    only_with_fake_ollama(spawn_app().await)
}

async fn app_with(vars: &[(&str, &str)]) -> Option<TestApp> {
    only_with_fake_ollama(spawn_app_with(AppConfig::with_vars(vars)).await)
}

fn only_with_fake_ollama(app: TestApp) -> Option<TestApp> {
    (!app.skip_external("the fake Ollama")).then_some(app)
}

#[tokio::test]
async fn a_streamed_answer_arrives_in_order_and_is_stored_with_usage() {
    let Some(app) = chat_app().await else {
        return;
    };
    let chat = Api::new(&app).await;
    let id = chat.conversation(json!({"model": "llama3.2:1b"})).await;

    let events = Events::new(chat.send(&id, json!({"content": "Hello there"})).await)
        .all()
        .await;

    let n = names(&events);
    assert_eq!(n.len(), 52, "{n:?}");
    assert_eq!(n[0], "start");
    assert!(n[1..51].iter().all(|e| *e == "delta"), "{n:?}");
    assert_eq!(n[51], "done");
    let start = &events[0].data;
    assert_eq!(start["user_message"]["content"], "Hello there");
    assert_eq!(start["user_message"]["role"], "user");
    let deltas: String = events[1..51]
        .iter()
        .filter_map(|e| e.data["content"].as_str())
        .collect();
    assert_eq!(deltas, tokens(50));
    let done = &events[51].data["message"];
    assert_eq!(done["id"], start["assistant_message_id"]);
    assert_eq!(done["content"], tokens(50));
    assert_eq!(done["status"], "complete");
    assert_eq!(done["role"], "assistant");
    assert_eq!(done["model"], "llama3.2:1b");
    assert_eq!(done["thinking"], Value::Null);
    let usage = &done["usage"];
    assert_eq!(usage["completion_tokens"], 50);
    assert!(usage["prompt_tokens"].as_u64() > Some(0), "{usage}");
    for k in [
        "total_duration_ms",
        "load_duration_ms",
        "eval_duration_ms",
        "tokens_per_second",
    ] {
        assert!(usage[k].as_f64().is_some_and(|v| v >= 0.0), "{k}: {usage}");
    }

    // Stored: the question and the answer, and the conversation counts them.
    let stored = chat.messages(&id).await;
    assert_eq!(stored.len(), 2);
    assert_eq!(
        stored[0],
        *start.get("user_message").unwrap_or(&Value::Null)
    );
    assert_eq!(stored[1], *done);
    let c = chat.conversation_of(&id).await;
    assert_eq!(c["message_count"], 2);
    assert!(c["updated_at"].as_str() >= done["created_at"].as_str());
    // The first exchange titles the conversation (after the answer).
    let title = eventually("a title", async || {
        chat.conversation_of(&id).await["title"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert!(!title.is_empty() && title.chars().count() <= 80, "{title}");
    // Ollama got the model and the streaming flag.
    let sent = app.fake().requests();
    let first = sent
        .iter()
        .find(|r| r.path == "/api/chat")
        .and_then(|r| r.body.clone());
    let first = first.unwrap_or_default();
    assert_eq!(first["model"], "llama3.2:1b");
    assert_eq!(first["stream"], true);
}

#[tokio::test]
async fn every_request_to_ollama_with_a_body_asks_for_100_continue_and_states_its_length() {
    // Spin's outbound client keeps Nagle's algorithm on and reuses connections, so a body
    // written after the request head waits for Ollama's delayed ACK (~40 ms to the first
    // token). `Expect: 100-continue` makes Ollama answer the head as soon as it reads the
    // body, and that answer releases it; a stated length keeps the body from going chunked,
    // whose closing chunk is one more small write to wait (docs/STREAMING.md).
    let Some(app) = chat_app().await else {
        return;
    };
    let chat = Api::new(&app).await;
    let id = chat.conversation(json!({"model": "llama3.2:1b"})).await;
    expect(
        chat.send(&id, json!({"content": "hi", "stream": false}))
            .await,
        201,
    )
    .await;
    eventually("a title", async || {
        chat.conversation_of(&id).await["title"]
            .as_str()
            .map(str::to_string)
    })
    .await;

    let sent = app.fake().requests();
    let with_body: Vec<_> = sent.iter().filter(|r| r.body.is_some()).collect();
    assert!(with_body.len() >= 2, "a chat and a title: {sent:?}");
    for r in with_body {
        assert_eq!(
            r.expect.as_deref(),
            Some("100-continue"),
            "{} {}",
            r.method,
            r.path
        );
        assert!(!r.chunked, "{} {} came chunked", r.method, r.path);
    }
}

#[tokio::test]
async fn each_token_leaves_before_the_next_is_produced() {
    let Some(app) = chat_app().await else {
        return;
    };
    let fake = app.fake();
    fake.set_tokens(12);
    fake.set_token_delay(Duration::from_millis(40));
    let chat = Api::new(&app).await;
    let id = chat.conversation(json!({"model": "llama3.2:1b"})).await;
    let events = Events::new(chat.send(&id, json!({"content": "pace"})).await)
        .all()
        .await;
    let deltas: Vec<&Event> = events.iter().filter(|e| e.name == "delta").collect();
    assert_eq!(deltas.len(), 12);
    let streams = fake.chat_streams();
    let sent = &streams[0].sent_at;
    // Delta i reached the client before Ollama produced chunk i+1: nothing is buffered.
    for i in 0..deltas.len() - 1 {
        assert!(
            deltas[i].at < sent[i + 1],
            "delta {i} arrived {:?} after chunk {} was produced",
            deltas[i].at.saturating_duration_since(sent[i + 1]),
            i + 1
        );
    }
}

#[tokio::test]
async fn non_streamed_answers_come_as_one_object() {
    let Some(app) = chat_app().await else {
        return;
    };
    let chat = Api::new(&app).await;
    let id = chat.conversation(json!({})).await;
    let b = expect(
        chat.send(&id, json!({"content": "Hi", "stream": false}))
            .await,
        201,
    )
    .await;
    assert_eq!(b["user_message"]["content"], "Hi");
    assert_eq!(b["assistant_message"]["content"], tokens(50));
    assert_eq!(b["assistant_message"]["status"], "complete");
    assert_eq!(b["assistant_message"]["usage"]["completion_tokens"], 50);
    let stored = chat.messages(&id).await;
    assert_eq!(
        stored,
        vec![b["user_message"].clone(), b["assistant_message"].clone()]
    );
    // Non-streamed first exchanges are titled before the answer returns.
    assert!(chat.conversation_of(&id).await["title"].is_string());
}

#[tokio::test]
async fn model_and_options_follow_body_then_conversation_then_default_with_history() {
    let Some(app) = app_with(&[
        ("default_model", "qwen3:0.6b"),
        ("history_max_messages", "3"),
    ])
    .await
    else {
        return;
    };
    let fake = app.fake();
    fake.set_tokens(2);
    let chat = Api::new(&app).await;
    let plain = chat.conversation(json!({})).await;
    expect(
        chat.send(&plain, json!({"content": "a", "stream": false}))
            .await,
        201,
    )
    .await;
    let id = chat
        .conversation(json!({"model": "llama3.2:1b", "system_prompt": "Be brief.",
                             "options": {"temperature": 0.2, "seed": 1}}))
        .await;
    for q in ["one", "two"] {
        expect(
            chat.send(&id, json!({"content": q, "stream": false})).await,
            201,
        )
        .await;
    }
    fake.clear_records();
    let b = chat
        .send(
            &id,
            json!({"content": "three", "stream": false, "model": "qwen3:0.6b",
                          "options": {"temperature": 0.9}}),
        )
        .await;
    let b = expect(b, 201).await;
    assert_eq!(b["assistant_message"]["model"], "qwen3:0.6b");
    let reqs = fake.requests();
    let sent = reqs
        .iter()
        .find(|r| r.path == "/api/chat")
        .and_then(|r| r.body.clone())
        .unwrap_or_default();
    assert_eq!(sent["model"], "qwen3:0.6b");
    assert_eq!(sent["options"], json!({"temperature": 0.9, "seed": 1}));
    let msgs: Vec<(String, String)> = sent["messages"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| (text_at(m, "/role"), text_at(m, "/content")))
                .collect()
        })
        .unwrap_or_default();
    // System prompt, then the newest three messages, the question last.
    assert_eq!(msgs.len(), 4, "{msgs:?}");
    assert_eq!(msgs[0], ("system".into(), "Be brief.".into()));
    assert_eq!(msgs[1].0, "user");
    assert_eq!(msgs[1].1, "two");
    assert_eq!(msgs[2].0, "assistant");
    assert_eq!(msgs[3], ("user".into(), "three".into()));
    // Without a model anywhere, the default_model variable is used.
    let first_plain = chat.messages(&plain).await;
    assert_eq!(first_plain[1]["model"], "qwen3:0.6b");
}

#[tokio::test]
async fn thinking_models_stream_their_reasoning_and_it_is_stored() {
    let Some(app) = chat_app().await else {
        return;
    };
    app.fake().set_tokens(5);
    let chat = Api::new(&app).await;
    let id = chat.conversation(json!({"model": "qwen3:0.6b"})).await;
    let events = Events::new(chat.send(&id, json!({"content": "think"})).await)
        .all()
        .await;
    assert_eq!(
        names(&events),
        [
            "start", "thinking", "thinking", "thinking", "delta", "delta", "delta", "delta",
            "delta", "done"
        ]
    );
    assert_eq!(events[1].data["content"], "think0 ");
    let done = &events[9].data["message"];
    assert_eq!(done["thinking"], "think0 think1 think2 ");
    assert_eq!(done["content"], tokens(5));
    assert_eq!(
        chat.messages(&id).await[1]["thinking"],
        "think0 think1 think2 "
    );
}

#[tokio::test]
async fn failures_before_the_stream_answer_with_a_status_and_keep_the_question() {
    let refused = FakeOllama::refused_url().await;
    let down = spawn_app_with(AppConfig {
        ollama_url: Some(refused),
        ..AppConfig::default()
    })
    .await;
    let Some(slow) = app_with(&[("ollama_timeout_seconds", "1")]).await else {
        return;
    };
    slow.fake()
        .set_fault(FaultMode::SlowFirstByte(Duration::from_secs(3)));
    let Some(app) = chat_app().await else {
        return;
    };
    let cases: Vec<(&TestApp, Option<FaultMode>, u16, &str)> = vec![
        (&down, None, 503, "OLLAMA_UNAVAILABLE"),
        (&app, Some(FaultMode::ModelNotFound), 404, "MODEL_NOT_FOUND"),
        (&app, Some(FaultMode::ServerError), 502, "UPSTREAM_ERROR"),
        (&slow, None, 504, "UPSTREAM_TIMEOUT"),
    ];
    for (app, fault, status, code) in cases {
        if let Some(f) = fault {
            app.fake().set_fault(f);
        }
        let chat = Api::new(app).await;
        for stream in [true, false] {
            let id = chat.conversation(json!({})).await;
            let resp = chat
                .send(&id, json!({"content": "are you there?", "stream": stream}))
                .await;
            expect_error(resp, status, code).await;
            let stored = chat.messages(&id).await;
            assert_eq!(stored[0]["content"], "are you there?", "{code}");
            assert_eq!(stored[0]["role"], "user");
            // The answer that never started is recorded as such.
            assert_eq!(stored.len(), 2, "{code}: {stored:?}");
            assert_eq!(stored[1]["status"], "error", "{code}");
        }
    }
}

#[tokio::test]
async fn failures_mid_stream_end_with_an_error_event_and_keep_the_partial_answer() {
    let Some(app) = app_with(&[("ollama_timeout_seconds", "1")]).await else {
        return;
    };
    let fake = app.fake();
    let chat = Api::new(&app).await;
    let cases = [
        (FaultMode::ErrorMidStream { after: 3 }, "UPSTREAM_ERROR"),
        (FaultMode::GarbageMidStream { after: 3 }, "UPSTREAM_ERROR"),
        (
            FaultMode::StallAfter {
                after: 3,
                stall: Duration::from_secs(3),
            },
            "UPSTREAM_TIMEOUT",
        ),
    ];
    for (fault, code) in cases {
        fake.set_fault(fault.clone());
        let id = chat.conversation(json!({"model": "llama3.2:1b"})).await;
        let events = Events::new(chat.send(&id, json!({"content": "go"})).await)
            .all()
            .await;
        assert_eq!(
            names(&events),
            ["start", "delta", "delta", "delta", "error"],
            "{fault:?}"
        );
        assert_eq!(events[4].data["error"]["code"], code, "{fault:?}");
        assert!(events[4].data["error"]["message"].is_string());
        let stored = chat.messages(&id).await;
        assert_eq!(stored[0]["content"], "go");
        assert_eq!(stored[1]["content"], tokens(3), "{fault:?}");
        assert_eq!(stored[1]["status"], "incomplete", "{fault:?}");
        // Non-streamed: the partial answer is stored too, and the status says what failed.
        let id = chat.conversation(json!({"model": "llama3.2:1b"})).await;
        let resp = chat
            .send(&id, json!({"content": "go", "stream": false}))
            .await;
        let status = if code == "UPSTREAM_TIMEOUT" { 504 } else { 502 };
        expect_error(resp, status, code).await;
        let stored = chat.messages(&id).await;
        assert_eq!(stored[1]["content"], tokens(3), "{fault:?}");
        assert_eq!(stored[1]["status"], "incomplete");
    }
}

#[tokio::test]
async fn stop_ends_a_running_answer_from_another_request() {
    let Some(app) = chat_app().await else {
        return;
    };
    let fake = app.fake();
    fake.set_tokens(200);
    fake.set_token_delay(Duration::from_millis(25));
    let chat = Api::new(&app).await;
    let id = chat.conversation(json!({"model": "llama3.2:1b"})).await;
    let stop = |id: String| {
        let chat = &chat;
        async move {
            chat.req(Method::POST, &format!("/api/chat/{id}/stop"))
                .go()
                .await
        }
    };
    expect_error(stop(id.clone()).await, 404, "NOT_FOUND").await;

    let mut events = Events::new(chat.send(&id, json!({"content": "long answer"})).await);
    let mut seen = Vec::new();
    while seen.iter().filter(|e: &&Event| e.name == "delta").count() < 3 {
        seen.push(
            events
                .next()
                .await
                .unwrap_or_else(|| panic!("stream ended early")),
        );
    }
    let resp = stop(id.clone()).await;
    assert_eq!(resp.status(), 204);
    // Once stop has answered, the partial answer is stored.
    let stored = chat.messages(&id).await;
    assert_eq!(stored[1]["status"], "incomplete");
    let partial = text_at(&stored[1], "/content");
    assert!(
        partial.starts_with(&tokens(3)) && partial.len() < tokens(200).len(),
        "{partial}"
    );
    // The stream ends with the stored message, and Ollama's request was closed.
    let rest = events.all().await;
    let last = rest.last().unwrap_or_else(|| panic!("no final event"));
    assert_eq!(last.name, "done");
    assert_eq!(last.data["message"]["status"], "incomplete");
    assert_eq!(last.data["message"]["content"], partial.as_str());
    eventually("Ollama's request to close", async || {
        let s = fake.chat_streams();
        (s[0].client_gone && !s[0].finished).then_some(())
    })
    .await;
    expect_error(stop(id.clone()).await, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn regenerate_adds_a_new_answer_to_the_last_question() {
    let Some(app) = chat_app().await else {
        return;
    };
    app.fake().set_tokens(4);
    let chat = Api::new(&app).await;
    let id = chat.conversation(json!({"title": "kept"})).await;
    let regen = |body: Option<Value>| {
        let chat = &chat;
        let id = id.clone();
        async move {
            let mut r = chat.req(Method::POST, &format!("/api/chat/{id}/regenerate"));
            if let Some(b) = body {
                r = r.json(&b);
            }
            r.go().await
        }
    };
    expect_error(regen(None).await, 409, "CONFLICT").await;
    let first = expect(
        chat.send(&id, json!({"content": "Q", "stream": false}))
            .await,
        201,
    )
    .await;
    let again = expect(regen(Some(json!({"stream": false}))).await, 201).await;
    assert_eq!(again["user_message"], first["user_message"]);
    assert_ne!(
        again["assistant_message"]["id"],
        first["assistant_message"]["id"]
    );
    assert_eq!(again["assistant_message"]["content"], tokens(4));
    let events = Events::new(regen(None).await).all().await;
    assert_eq!(events.first().map(|e| e.name.as_str()), Some("start"));
    assert_eq!(events.last().map(|e| e.name.as_str()), Some("done"));
    let stored = chat.messages(&id).await;
    let roles: Vec<&str> = stored.iter().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(roles, ["user", "assistant", "assistant", "assistant"]);
    // A titled conversation keeps its title.
    assert_eq!(chat.conversation_of(&id).await["title"], "kept");
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_loses_nothing() {
    let Some(app) = chat_app().await else {
        return;
    };
    let fake = app.fake();
    fake.set_tokens(30);
    fake.set_token_delay(Duration::from_millis(20));
    let chat = Api::new(&app).await;
    let id = chat.conversation(json!({"model": "llama3.2:1b"})).await;
    let mut events = Events::new(chat.send(&id, json!({"content": "bye"})).await);
    for _ in 0..4 {
        events.next().await;
    }
    drop(events);
    // Spin keeps the instance while the spawned task runs, so the answer is finished and
    // stored complete (the contract allows `incomplete` on hosts that stop the instance).
    let stored = eventually("the answer to be stored", async || {
        let m = chat.messages(&id).await;
        (m.get(1)?["status"] == "complete").then_some(m)
    })
    .await;
    assert_eq!(stored[1]["content"], tokens(30));
    assert!(fake.chat_streams()[0].finished);
}

#[tokio::test]
async fn one_user_cannot_run_more_than_the_allowed_answers_at_once() {
    let Some(app) = app_with(&[("max_concurrent_generations", "1")]).await else {
        return;
    };
    let fake = app.fake();
    fake.set_tokens(40);
    fake.set_token_delay(Duration::from_millis(20));
    let chat = Api::new(&app).await;
    let other = Api::new(&app).await;
    let a = chat.conversation(json!({})).await;
    let b = chat.conversation(json!({})).await;
    let mut running = Events::new(chat.send(&a, json!({"content": "first"})).await);
    running.next().await;
    // `start` may come before the question's commit (a race with it ends in `event: error`
    // instead); a client that waits for the stored answer sees the limit as a status.
    eventually("the first answer to be stored", async || {
        (chat.messages(&a).await.len() == 2).then_some(())
    })
    .await;
    let refused = chat.send(&b, json!({"content": "second"})).await;
    assert!(refused.headers().contains_key("retry-after"));
    expect_error(refused, 429, "RATE_LIMITED").await;
    assert!(
        chat.messages(&b).await.is_empty(),
        "a refused question is not stored"
    );
    // Another user is not affected.
    let c = other.conversation(json!({})).await;
    expect(
        other
            .send(&c, json!({"content": "mine", "stream": false}))
            .await,
        201,
    )
    .await;
    // When the first answer is done, the user may ask again.
    running.all().await;
    expect(
        chat.send(&b, json!({"content": "second", "stream": false}))
            .await,
        201,
    )
    .await;
}

#[tokio::test]
async fn chat_routes_validate_input_and_hide_other_users_conversations() {
    let Some(app) = chat_app().await else {
        return;
    };
    let alice = Api::new(&app).await;
    let bob = Api::new(&app).await;
    let id = alice.conversation(json!({})).await;
    for (path, b) in [
        ("messages", Some(json!({"content": "mine now"}))),
        ("regenerate", Some(json!({"stream": false}))),
        ("regenerate", None),
        ("stop", None),
    ] {
        let mut r = bob.req(Method::POST, &format!("/api/chat/{id}/{path}"));
        if let Some(b) = &b {
            r = r.json(b);
        }
        expect_error(r.go().await, 404, "NOT_FOUND").await;
    }
    assert!(alice.messages(&id).await.is_empty());
    let bad: Vec<(Value, &str)> = vec![
        (json!({}), "content"),
        (json!({"content": "   "}), "content"),
        (json!({"content": 5}), "content"),
        (json!({"content": "x", "model": "bad model"}), "model"),
        (json!({"content": "x", "options": "hot"}), "options"),
        (
            json!({"content": "x", "options": {"num_ctx": "4096"}}),
            "options.num_ctx",
        ),
        (json!({"content": "x", "stream": "yes"}), "stream"),
        (json!({"content": "x", "extra": 1}), "extra"),
    ];
    for (b, field) in bad {
        let resp = alice.send(&id, b.clone()).await;
        let e = expect_error(resp, 400, "VALIDATION_ERROR").await;
        assert_eq!(e["error"]["details"]["field"], field, "{b}");
    }
    assert!(
        alice.messages(&id).await.is_empty(),
        "nothing stored for bad input"
    );
    let anon = reqwest::Client::new()
        .post(app.at(&format!("/api/chat/{id}/messages")))
        .json(&json!({"content": "hi"}))
        .go()
        .await;
    expect_error(anon, 401, "UNAUTHENTICATED").await;
    let nowhere = alice
        .send("0123456789abcdef0123456789abcdef", json!({"content": "x"}))
        .await;
    expect_error(nowhere, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn models_are_listed_shown_pulled_and_deleted() {
    let Some(app) = chat_app().await else {
        return;
    };
    let admin = Api::new(&app).await; // the first user is the admin
    let user = Api::new(&app).await;
    let list = expect(user.req(Method::GET, "/api/models").go().await, 200).await;
    let items = items(&list);
    let names: Vec<&str> = items.iter().filter_map(|m| m["name"].as_str()).collect();
    assert_eq!(names, ["llama3.2:1b", "qwen3:0.6b"]);
    let m = &items[0];
    assert_eq!(m["family"], "llama");
    assert_eq!(m["parameter_size"], "1.2B");
    assert_eq!(m["quantization_level"], "Q8_0");
    assert!(
        m["size"].as_u64() > Some(0) && m["modified_at"].is_string(),
        "{m}"
    );

    let show = expect(
        user.req(Method::GET, "/api/models/qwen3:0.6b").go().await,
        200,
    )
    .await;
    assert_eq!(show["name"], "qwen3:0.6b");
    assert!(show["capabilities"].is_array(), "{show}");
    expect_error(
        user.req(Method::GET, "/api/models/nope:1b").go().await,
        404,
        "MODEL_NOT_FOUND",
    )
    .await;

    // Pull: admins only, progress as events, then the list shows it.
    let pull = |who: &Api, name: &str| {
        who.req(Method::POST, "/api/models/pull")
            .json(&json!({"name": name}))
    };
    expect_error(pull(&user, "tinyllama").go().await, 403, "FORBIDDEN").await;
    let events = Events::new(pull(&admin, "tinyllama").go().await)
        .all()
        .await;
    let n = names_of(&events);
    assert_eq!(n.first().copied(), Some("progress"));
    assert_eq!(n.last().copied(), Some("done"));
    assert!(n[..n.len() - 1].iter().all(|e| *e == "progress"), "{n:?}");
    let with_bytes: Vec<&Event> = events.iter().filter(|e| e.data["total"].is_u64()).collect();
    assert!(with_bytes.len() >= 2);
    assert_eq!(
        with_bytes.last().map(|e| e.data["completed"].clone()),
        Some(json!(1_000_000))
    );
    // Each event names the server it comes from.
    let server = app.fake().url();
    assert_eq!(
        events[0].data,
        json!({"status": "pulling manifest", "completed": null, "total": null, "server": server})
    );
    let list = expect(user.req(Method::GET, "/api/models").go().await, 200).await;
    assert!(list.to_string().contains("tinyllama:latest"), "{list}");
    let failed = Events::new(pull(&admin, "missing-model").go().await)
        .all()
        .await;
    assert_eq!(names_of(&failed), ["error"]);

    // Delete: admins only.
    let del = |who: &Api, name: &str| who.req(Method::DELETE, &format!("/api/models/{name}"));
    expect_error(del(&user, "tinyllama:latest").go().await, 403, "FORBIDDEN").await;
    assert_eq!(del(&admin, "tinyllama:latest").go().await.status(), 204);
    expect_error(
        del(&admin, "tinyllama:latest").go().await,
        404,
        "MODEL_NOT_FOUND",
    )
    .await;
    let list = expect(user.req(Method::GET, "/api/models").go().await, 200).await;
    assert!(!list.to_string().contains("tinyllama"), "{list}");
}

fn names_of(events: &[Event]) -> Vec<&str> {
    names(events)
}

#[tokio::test]
async fn models_answer_503_when_ollama_is_down() {
    let app = spawn_app_with(AppConfig {
        ollama_url: Some(FakeOllama::refused_url().await),
        ..AppConfig::default()
    })
    .await;
    if app.skip_external("an Ollama address of its own") {
        return;
    }
    let user = Api::new(&app).await;
    expect_error(
        user.req(Method::GET, "/api/models").go().await,
        503,
        "OLLAMA_UNAVAILABLE",
    )
    .await;
}

#[tokio::test]
async fn a_generation_left_by_a_dead_instance_blocks_nobody() {
    let Some(app) = app_with(&[
        ("max_concurrent_generations", "1"),
        ("ollama_timeout_seconds", "5"),
    ])
    .await
    else {
        return;
    };
    let Some(db) = app.database_path() else {
        return; // needs the database file (not available against an external app)
    };
    let chat = Api::new(&app).await;
    let id = chat.conversation(json!({})).await;
    // Warm up once so the schema exists, then leave a row whose heartbeat stopped long ago.
    expect(
        chat.send(&id, json!({"content": "one", "stream": false}))
            .await,
        201,
    )
    .await;
    let conn = rusqlite::Connection::open(db).unwrap_or_else(|e| panic!("{e}"));
    conn.execute(
        "INSERT INTO generations (id, user_id, conversation_id, started_at, heartbeat_at)
         VALUES ('dead', ?1, ?2, '2020-01-01T00:00:00.000Z', '2020-01-01T00:00:00.000Z')",
        [&chat.user.id, &id],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // Not counted against the limit, and nothing to stop.
    expect(
        chat.send(&id, json!({"content": "two", "stream": false}))
            .await,
        201,
    )
    .await;
    let stop = chat
        .req(Method::POST, &format!("/api/chat/{id}/stop"))
        .go()
        .await;
    expect_error(stop, 404, "NOT_FOUND").await;
}

/// An app where each user may ask the model twice an hour (`None` against `APP_URL`).
async fn two_questions_per_window() -> Option<TestApp> {
    app_with(&[
        ("rate_limit_chat", "2"),
        ("rate_limit_window_seconds", "3600"),
    ])
    .await
}

#[tokio::test]
async fn asking_the_model_is_limited_per_user_and_a_refused_question_is_not_stored() {
    // Arrange: two questions per window for each user.
    let Some(app) = two_questions_per_window().await else {
        return; // needs its own limits
    };
    let chat = Api::new(&app).await;
    // Titled, so that no title is asked for on the side.
    let id = chat.conversation(json!({"title": "limits"})).await;

    // Act + Assert: a streamed answer and a whole one, each saying what is left.
    let streamed = chat.send(&id, json!({"content": "one"})).await;
    assert_eq!(header(&streamed, "ratelimit-limit").as_deref(), Some("2"));
    assert_eq!(
        header(&streamed, "ratelimit-remaining").as_deref(),
        Some("1")
    );
    assert_eq!(
        names(&Events::new(streamed).all().await).last(),
        Some(&"done")
    );
    let whole = chat
        .send(&id, json!({"content": "two", "stream": false}))
        .await;
    assert_eq!(header(&whole, "ratelimit-remaining").as_deref(), Some("0"));
    expect(whole, 201).await;

    // A third question, and a regenerate, are refused before anything is stored or asked.
    let asked_before = app.fake().chat_streams().len();
    for refused in [
        chat.send(&id, json!({"content": "three"})).await,
        chat.req(Method::POST, &format!("/api/chat/{id}/regenerate"))
            .go()
            .await,
    ] {
        let retry: i64 = header(&refused, "retry-after")
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1);
        assert!((1..=3600).contains(&retry), "retry-after {retry}");
        assert_eq!(
            header(&refused, "ratelimit-remaining").as_deref(),
            Some("0")
        );
        expect_error(refused, 429, "RATE_LIMITED").await;
    }
    assert_eq!(
        app.fake().chat_streams().len(),
        asked_before,
        "Ollama was asked"
    );
    let stored = chat.messages(&id).await;
    assert_eq!(stored.len(), 4, "only the two exchanges are stored");
    assert_eq!(stored[2]["content"], "two");

    // Another user's budget is their own, and reading is not asking.
    let other = Api::new(&app).await;
    let theirs = other.conversation(json!({})).await;
    expect(
        other
            .send(&theirs, json!({"content": "mine", "stream": false}))
            .await,
        201,
    )
    .await;
    assert_eq!(chat.messages(&id).await.len(), 4);
}

#[tokio::test]
async fn questions_asked_at_once_at_the_edge_of_the_limit_are_counted_exactly() {
    // Arrange: two questions per window, one of them asked.
    let Some(app) = two_questions_per_window().await else {
        return; // needs its own limits
    };
    let chat = Api::new(&app).await;
    let first = chat.conversation(json!({"title": "first"})).await;
    let whole = |content: &str| json!({"content": content, "stream": false});
    expect(chat.send(&first, whole("one")).await, 201).await;
    let (a, b) = (
        chat.conversation(json!({"title": "a"})).await,
        chat.conversation(json!({"title": "b"})).await,
    );

    // Act: the last question of the window, twice at the same moment.
    let (ra, rb) = tokio::join!(chat.send(&a, whole("two")), chat.send(&b, whole("two")));

    // Assert: exactly one is answered; the other is refused with nothing of it stored.
    let mut statuses = [ra.status().as_u16(), rb.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 429]);
    for r in [ra, rb] {
        if r.status() == 429 {
            expect_error(r, 429, "RATE_LIMITED").await;
        }
    }
    let mut stored = [chat.messages(&a).await.len(), chat.messages(&b).await.len()];
    stored.sort_unstable();
    assert_eq!(stored, [0, 2]);
}

#[tokio::test]
async fn a_slow_database_does_not_hold_back_tokens_and_a_failed_store_is_reported() {
    let Some(app) = chat_app().await else {
        return;
    };
    let Some(db) = app.database_path() else {
        return; // needs the database file (not available against an external app)
    };
    let fake = app.fake();
    fake.set_tokens(10);
    fake.set_token_delay(Duration::from_millis(30));
    let chat = Api::new(&app).await;
    let id = chat.conversation(json!({})).await;
    expect(
        chat.send(&id, json!({"content": "warm up", "stream": false}))
            .await,
        201,
    )
    .await;
    let lock = |db: &std::path::Path| {
        let c = rusqlite::Connection::open(db).unwrap_or_else(|e| panic!("{e}"));
        c.execute_batch("BEGIN IMMEDIATE")
            .unwrap_or_else(|e| panic!("{e}"));
        c
    };

    // Another writer holds the database while the question is sent, for longer than one of
    // SQLite's waits (100 ms; 8 tokens 30 ms apart): every token still arrives, and once the
    // writer is done the question and the answer are stored, complete.
    let holder = lock(&db);
    let mut events = Events::new(chat.send(&id, json!({"content": "slow disk"})).await);
    let mut seen = Vec::new();
    while seen.len() < 9 {
        let e = events
            .next()
            .await
            .unwrap_or_else(|| panic!("stream ended early"));
        seen.push(e.name);
    }
    assert_eq!(seen[0], "start");
    assert!(seen[1..].iter().all(|n| n == "delta"), "{seen:?}");
    holder
        .execute_batch("ROLLBACK")
        .unwrap_or_else(|e| panic!("{e}"));
    let rest = events.all().await;
    assert_eq!(names(&rest), ["delta", "delta", "done"]);
    assert_eq!(rest[2].data["message"]["status"], "complete");
    let stored = chat.messages(&id).await;
    assert_eq!(stored.len(), 4);
    assert_eq!(stored[2]["content"], "slow disk");
    assert_eq!(stored[3]["content"], tokens(10));

    // Held past SQLite's busy timeout (5 s, as in Spin): the question cannot be stored, and
    // the stream says so instead of `done`.
    let holder = lock(&db);
    let events = Events::new(chat.send(&id, json!({"content": "no disk"})).await);
    let all = events.all().await;
    holder
        .execute_batch("ROLLBACK")
        .unwrap_or_else(|e| panic!("{e}"));
    let last = all.last().unwrap_or_else(|| panic!("no events"));
    assert_eq!(last.name, "error", "{:?}", names(&all));
    assert_eq!(last.data["error"]["code"], "INTERNAL");
    let message = &text_at(&last.data, "/error/message");
    assert!(message.contains("not be saved"), "{message}");
    assert_eq!(chat.messages(&id).await.len(), 4, "nothing half-stored");
}
