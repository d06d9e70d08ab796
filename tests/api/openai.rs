//! Black-box tests of the `/v1` section of API.md (OpenAI compatibility), against the fake
//! Ollama: OpenAI's shapes whole and streamed, tools, images, JSON mode, embeddings, errors in
//! OpenAI's shape, the chat limits, API keys, and a client that goes away. The official
//! `openai` SDK runs against the same routes in `scripts/openai_sdk.py` (`.ci/run`).

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use test_support::fake_ollama::FaultMode;
use test_support::testing::{
    Api, AppConfig, SendExt, TestApp, expect, expect_openai_error, header, spawn_app,
    spawn_app_with, text, text_at,
};

async fn v1_app(vars: &[(&str, &str)]) -> Option<TestApp> {
    let app = spawn_app_with(AppConfig::with_vars(vars)).await;
    (!app.skip_external("the fake Ollama")).then_some(app)
}

fn ask(content: &str) -> Value {
    json!({"model": "llama3.2:1b", "messages": [{"role": "user", "content": content}]})
}

/// The last `/api/chat` body the fake received.
fn last_chat_body(app: &TestApp) -> Value {
    app.fake()
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == "/api/chat")
        .and_then(|r| r.body)
        .unwrap_or(Value::Null)
}

/// The `data:` payloads of an SSE body, in order (`[DONE]` as the string `"[DONE]"`).
fn data_lines(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter_map(|block| block.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap_or_else(|_| Value::String(d.to_string())))
        .collect()
}

#[tokio::test]
async fn models_are_listed_and_retrieved_in_openais_shape() {
    let Some(app) = v1_app(&[]).await else { return };
    let user = Api::new(&app).await;

    let list = expect(user.get("/v1/models").await, 200).await;
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .map(|d| d.iter().filter_map(|m| m["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, ["llama3.2:1b", "qwen3:0.6b"]);
    let first = &list["data"][0];
    assert_eq!(first["object"], "model");
    assert_eq!(first["owned_by"], "library");
    assert!(
        first["created"].as_i64().is_some_and(|t| t > 1_700_000_000),
        "{first}"
    );

    let one = expect(user.get("/v1/models/qwen3:0.6b").await, 200).await;
    assert_eq!(one["id"], "qwen3:0.6b");
    let missing = user.get("/v1/models/nope:1b").await;
    expect_openai_error(missing, 404, "not_found_error", Some("model_not_found")).await;
}

#[tokio::test]
async fn without_a_valid_key_v1_answers_openais_authentication_error() {
    let app = spawn_app().await;
    for token in [None, Some("ock_not_a_key"), Some("junk")] {
        let mut req = app.client.get(app.at("/v1/models"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.go().await;
        assert_eq!(header(&resp, "www-authenticate").as_deref(), Some("Bearer"));
        expect_openai_error(resp, 401, "authentication_error", Some("invalid_api_key")).await;
    }
    let user = Api::new(&app).await;
    let unknown = user.get("/v1/assistants").await;
    expect_openai_error(unknown, 404, "not_found_error", None).await;
    let wrong = user.req(Method::GET, "/v1/chat/completions").go().await;
    assert!(header(&wrong, "allow").is_some_and(|a| a.contains("POST")));
    expect_openai_error(wrong, 405, "invalid_request_error", None).await;
}

#[tokio::test]
async fn a_whole_completion_is_openais_shape_with_ollamas_counts() {
    let Some(app) = v1_app(&[]).await else { return };
    let user = Api::new(&app).await;
    let mut body = ask("Hello there");
    body["temperature"] = json!(0.2);
    body["max_tokens"] = json!(64);
    body["stop"] = json!(["\n\n"]);

    let c = expect(user.post("/v1/chat/completions", &body).await, 200).await;

    assert_eq!(c["object"], "chat.completion");
    assert!(text_at(&c, "/id").starts_with("chatcmpl-"));
    assert_eq!(c["model"], "llama3.2:1b");
    let choice = &c["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    let expected: String = (0..50).map(|i| format!("tok{i} ")).collect();
    assert_eq!(choice["message"]["content"], expected.as_str());
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(c["usage"]["completion_tokens"], 50);
    assert_eq!(
        c["usage"]["prompt_tokens"], 2,
        "11 characters: the fake's 2 tokens"
    );
    assert_eq!(c["usage"]["total_tokens"], 52);
    // What Ollama was asked, in its own terms.
    let sent = last_chat_body(&app);
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": "Hello there"}])
    );
    assert_eq!(sent["options"]["temperature"], 0.2);
    assert_eq!(sent["options"]["num_predict"], 64);
    assert_eq!(sent["options"]["stop"], json!(["\n\n"]));
    assert_eq!(app.fake().chat_streams().len(), 1);

    // A thinking model's reasoning comes apart from its answer.
    let thinking =
        json!({"model": "qwen3:0.6b", "messages": [{"role": "user", "content": "Why?"}]});
    let t = expect(user.post("/v1/chat/completions", &thinking).await, 200).await;
    let message = &t["choices"][0]["message"];
    assert_eq!(message["reasoning_content"], "think0 think1 think2 ");
    assert!(text_at(message, "/content").starts_with("tok0 "), "{t}");
}

#[tokio::test]
async fn a_streamed_completion_is_chunks_then_usage_then_done() {
    let Some(app) = v1_app(&[]).await else { return };
    let user = Api::new(&app).await;
    let mut body = ask("Hi");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});

    let resp = user.post("/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "content-type").as_deref(),
        Some("text/event-stream")
    );
    let events = data_lines(&text(resp).await);

    assert_eq!(
        events.len(),
        1 + 50 + 1 + 1 + 1,
        "role, tokens, finish, usage, [DONE]"
    );
    assert_eq!(events[0]["choices"][0]["delta"]["role"], "assistant");
    let content: String = events[1..51]
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(
        content,
        (0..50).map(|i| format!("tok{i} ")).collect::<String>()
    );
    assert_eq!(events[51]["choices"][0]["finish_reason"], "stop");
    let id = &events[0]["id"];
    for e in &events[..52] {
        assert_eq!(e["object"], "chat.completion.chunk");
        assert_eq!(&e["id"], id);
        assert_eq!(e["usage"], Value::Null, "{e}");
    }
    assert_eq!(events[52]["choices"], json!([]));
    assert_eq!(events[52]["usage"]["completion_tokens"], 50);
    assert_eq!(events[53], "[DONE]");
}

#[tokio::test]
async fn a_tool_call_and_its_result_go_round_trip() {
    let Some(app) = v1_app(&[]).await else { return };
    let user = Api::new(&app).await;
    let tools = json!([{"type": "function", "function": {
        "name": "weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    }}]);
    let mut body = ask("Weather in Paris?");
    body["tools"] = tools.clone();

    let c = expect(user.post("/v1/chat/completions", &body).await, 200).await;
    let choice = &c["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{c}");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "weather");
    let args: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap_or(""))
        .unwrap_or(Value::Null);
    assert_eq!(args, json!({"city": "Paris"}));
    assert_eq!(
        last_chat_body(&app)["tools"][0]["function"]["name"],
        "weather"
    );

    let follow_up = json!({"model": "llama3.2:1b", "tools": tools, "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        choice["message"],
        {"role": "tool", "tool_call_id": call["id"], "content": "18 C and sunny"}
    ]});
    let answer = expect(user.post("/v1/chat/completions", &follow_up).await, 200).await;
    assert_eq!(answer["choices"][0]["finish_reason"], "stop", "{answer}");
    let sent = last_chat_body(&app);
    assert_eq!(
        sent["messages"][1]["tool_calls"][0]["function"]["arguments"],
        args
    );
    assert_eq!(
        sent["messages"][2],
        json!({"role": "tool", "content": "18 C and sunny", "tool_name": "weather"})
    );

    // Streamed, the call comes as a delta with its index.
    body["stream"] = json!(true);
    let events = data_lines(&text(user.post("/v1/chat/completions", &body).await).await);
    let delta = &events[1]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(delta["index"], 0);
    assert_eq!(delta["function"]["name"], "weather");
    assert_eq!(events[2]["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn images_reach_ollama_and_json_mode_answers_json() {
    let Some(app) = v1_app(&[]).await else { return };
    let user = Api::new(&app).await;
    let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\n not really");
    let body = json!({"model": "llama3.2:1b", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{png}")}}
    ]}]});

    expect(user.post("/v1/chat/completions", &body).await, 200).await;
    let sent = last_chat_body(&app);
    assert_eq!(sent["messages"][0]["images"], json!([png]));
    assert_eq!(sent["messages"][0]["content"], "What is in this picture?");

    let mut json_mode = ask("Answer in JSON");
    json_mode["response_format"] = json!({"type": "json_object"});
    let c = expect(user.post("/v1/chat/completions", &json_mode).await, 200).await;
    assert_eq!(last_chat_body(&app)["format"], "json");
    let content = text_at(&c, "/choices/0/message/content");
    let parsed: Result<Value, _> = serde_json::from_str(&content);
    assert!(parsed.is_ok_and(|v| v.is_object()), "{content}");
}

#[tokio::test]
async fn bad_requests_are_openais_400s_naming_the_field() {
    let Some(app) = v1_app(&[]).await else { return };
    let user = Api::new(&app).await;
    let user_msg = json!([{"role": "user", "content": "x"}]);
    let table = [
        (
            json!({"model": "llama3.2:1b", "messages": user_msg, "n": 2}),
            "n",
        ),
        (
            json!({"model": "llama3.2:1b", "messages": [{"role": "robot", "content": "x"}]}),
            "messages[0].role",
        ),
        (json!({"model": "llama3.2:1b", "messages": []}), "messages"),
        (json!({"messages": user_msg}), "model"),
        (
            json!({"model": "llama3.2:1b", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://example.com/cat.png"}}]}]}),
            "messages[0].content[0].image_url.url",
        ),
        (
            json!({"model": "llama3.2:1b", "messages": user_msg, "tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]}),
            "tools[0].function.parameters",
        ),
        (
            json!({"model": "llama3.2:1b", "messages": user_msg, "temperature": 9}),
            "temperature",
        ),
    ];
    for (body, param) in table {
        let b = expect_openai_error(
            user.post("/v1/chat/completions", &body).await,
            400,
            "invalid_request_error",
            None,
        )
        .await;
        assert_eq!(b["error"]["param"], param, "{body}: {b}");
    }
    let broken = user
        .req(Method::POST, "/v1/chat/completions")
        .header("content-type", "application/json")
        .body("{\"model\": ")
        .go()
        .await;
    expect_openai_error(broken, 400, "invalid_request_error", Some("invalid_json")).await;
    let unknown = user
        .post(
            "/v1/chat/completions",
            &json!({"model": "nope:7b", "messages": user_msg}),
        )
        .await;
    expect_openai_error(unknown, 404, "not_found_error", Some("model_not_found")).await;
    // None of them reached Ollama but the unknown model.
    assert_eq!(app.fake().chat_streams().len(), 1);
}

#[tokio::test]
async fn embeddings_come_as_floats_or_base64() {
    let Some(app) = v1_app(&[]).await else { return };
    let user = Api::new(&app).await;
    let body = json!({"model": "llama3.2:1b", "input": ["first text", "second"], "dimensions": 4});

    let floats = expect(user.post("/v1/embeddings", &body).await, 200).await;
    assert_eq!(floats["object"], "list");
    assert_eq!(floats["model"], "llama3.2:1b");
    let data = floats["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["index"], 1);
    assert_eq!(data[0]["object"], "embedding");
    let vector: Vec<f64> = data[0]["embedding"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    assert_eq!(vector.len(), 4);
    assert!(
        floats["usage"]["prompt_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );

    let mut b64 = body.clone();
    b64["encoding_format"] = json!("base64");
    let encoded = expect(user.post("/v1/embeddings", &b64).await, 200).await;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text_at(&encoded, "/data/0/embedding"))
        .unwrap_or_default();
    let decoded: Vec<f64> = bytes
        .chunks_exact(4)
        .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        .collect();
    assert_eq!(decoded, vector);

    let tokens = user
        .post(
            "/v1/embeddings",
            &json!({"model": "llama3.2:1b", "input": [[1, 2]]}),
        )
        .await;
    let b = expect_openai_error(tokens, 400, "invalid_request_error", None).await;
    assert_eq!(b["error"]["param"], "input");
    let missing = user
        .post("/v1/embeddings", &json!({"model": "nope:1b", "input": "x"}))
        .await;
    expect_openai_error(missing, 404, "not_found_error", Some("model_not_found")).await;
}

#[tokio::test]
async fn ollama_failures_are_api_errors_before_and_during_a_stream() {
    let Some(app) = v1_app(&[]).await else { return };
    let user = Api::new(&app).await;
    app.fake().set_fault(FaultMode::ServerError);
    let failed = user.post("/v1/chat/completions", &ask("x")).await;
    expect_openai_error(failed, 502, "api_error", None).await;

    app.fake().set_fault(FaultMode::ErrorMidStream { after: 3 });
    let mut body = ask("x");
    body["stream"] = json!(true);
    let events = data_lines(&text(user.post("/v1/chat/completions", &body).await).await);
    let last = events.last().cloned().unwrap_or(Value::Null);
    assert_eq!(last["error"]["type"], "api_error", "{events:?}");
    assert!(!events.contains(&json!("[DONE]")));
    assert_eq!(events.len(), 1 + 3 + 1, "role, 3 tokens, the error");
}

#[tokio::test]
async fn a_completion_counts_as_a_running_answer() {
    let Some(app) = v1_app(&[("max_concurrent_generations", "1")]).await else {
        return;
    };
    let user = Api::new(&app).await;
    app.fake().set_token_delay(Duration::from_millis(40));
    let mut slow = ask("a long answer");
    slow["stream"] = json!(true);
    let running = user.post("/v1/chat/completions", &slow).await;
    assert_eq!(running.status(), 200);

    let second = user.post("/v1/chat/completions", &ask("meanwhile")).await;
    assert_eq!(header(&second, "retry-after").as_deref(), Some("1"));
    expect_openai_error(second, 429, "rate_limit_error", Some("rate_limit_exceeded")).await;
    assert_eq!(
        app.fake().chat_streams().len(),
        1,
        "the refused one never reached Ollama"
    );
    let other = Api::new(&app).await;
    expect(other.post("/v1/chat/completions", &ask("mine")).await, 200).await;
}

#[tokio::test]
async fn completions_count_against_the_chat_rate_limit() {
    let Some(app) = v1_app(&[("rate_limit_chat", "2")]).await else {
        return;
    };
    let user = Api::new(&app).await;
    for _ in 0..2 {
        let ok = user.post("/v1/chat/completions", &ask("x")).await;
        assert_eq!(header(&ok, "ratelimit-limit").as_deref(), Some("2"));
        expect(ok, 200).await;
    }
    let third = user.post("/v1/chat/completions", &ask("x")).await;
    assert!(header(&third, "retry-after").is_some());
    expect_openai_error(third, 429, "rate_limit_error", Some("rate_limit_exceeded")).await;
    // Other routes of the user are not limited by it.
    expect(user.get("/v1/models").await, 200).await;
}

#[tokio::test]
async fn an_api_key_works_and_a_client_that_leaves_ends_ollamas_request() {
    let Some(app) = v1_app(&[]).await else { return };
    let user = Api::new(&app).await;
    let created = expect(
        user.post("/api/auth/keys", &json!({"name": "sdk"})).await,
        201,
    )
    .await;
    let key = text_at(&created, "/key");
    app.fake().set_token_delay(Duration::from_millis(30));
    let mut body = ask("tell me a long story");
    body["stream"] = json!(true);

    let mut resp = app
        .bearer(&key)
        .req(Method::POST, "/v1/chat/completions")
        .json(&body)
        .go()
        .await;
    assert_eq!(resp.status(), 200);
    let mut seen = String::new();
    while seen.matches("\"content\":\"tok").count() < 3 {
        match resp.chunk().await {
            Ok(Some(c)) => seen.push_str(&String::from_utf8_lossy(&c)),
            other => panic!("stream ended early: {other:?}"),
        }
    }
    drop(resp);

    let fake = app.fake();
    test_support::testing::eventually("Ollama's request to be closed", async || {
        fake.chat_streams()
            .first()
            .filter(|s| s.client_gone && !s.finished)
            .map(|_| ())
    })
    .await;
    let Some(db) = app.database_path() else {
        return;
    };
    let counted = test_support::testing::eventually("the usage to be recorded", async || {
        let conn = rusqlite::Connection::open(&db).ok()?;
        conn.query_row(
            "SELECT key_id, model, requests, completion_tokens FROM usage WHERE user_id = ?",
            [&user.user.id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            },
        )
        .ok()
    })
    .await;
    assert_eq!(counted.0, text_at(&created, "/id"));
    assert_eq!(counted.1, "llama3.2:1b");
    assert_eq!(counted.2, 1);
    assert!(
        (3..50).contains(&counted.3),
        "tokens received before the client left: {}",
        counted.3
    );
}
