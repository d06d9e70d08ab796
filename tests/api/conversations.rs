//! Black-box tests of the conversations section of API.md: CRUD, listing and its cursors,
//! messages, full-text search, export/import, share links, limits, and that no route lets one
//! user reach another's conversations.

use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashSet;
use test_support::testing::{
    Api, AppConfig, SendExt, body, expect, expect_error, header, items, json, spawn_app,
    spawn_app_with, text, text_at,
};

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|i| text_at(i, "/id")).collect()
}

fn id_of(v: &Value) -> String {
    text_at(v, "/id")
}

#[tokio::test]
async fn create_get_update_delete() {
    let app = spawn_app().await;
    let alice = Api::new(&app).await;

    // Create with everything, and with nothing at all (no body).
    let c = alice
        .create(json!({"title": "  Rust questions ", "model": "llama3.2:1b",
                       "system_prompt": "Be brief.", "options": {"temperature": 0.2},
                       "tags": ["rust", "work", "rust"]}))
        .await;
    assert_eq!(c["title"], "Rust questions");
    assert_eq!(c["model"], "llama3.2:1b");
    assert_eq!(c["system_prompt"], "Be brief.");
    assert_eq!(c["options"], json!({"temperature": 0.2}));
    assert_eq!(c["tags"], json!(["rust", "work"]));
    assert_eq!(
        (c["pinned"].clone(), c["archived"].clone()),
        (json!(false), json!(false))
    );
    assert_eq!(c["message_count"], 0);
    assert_eq!(c["created_at"], c["updated_at"]);
    assert!(c.get("snippet").is_none(), "{c}");
    let empty = expect(
        alice.req(Method::POST, "/api/conversations").go().await,
        201,
    )
    .await;
    let empty = &empty["conversation"];
    for k in ["title", "model", "system_prompt", "options"] {
        assert_eq!(empty[k], Value::Null, "{k}");
    }
    assert_eq!(empty["tags"], json!([]));

    // Get.
    let id = id_of(&c);
    let got = alice
        .req(Method::GET, &format!("/api/conversations/{id}"))
        .go()
        .await;
    assert_eq!(expect(got, 200).await["conversation"], c);

    // Update: absent fields stay, null clears, values replace.
    let b = expect(
        alice
            .update(
                &id,
                json!({"title": "Renamed", "pinned": true, "options": null, "tags": ["x"]}),
            )
            .await,
        200,
    )
    .await;
    let u = &b["conversation"];
    assert_eq!(u["title"], "Renamed");
    assert_eq!(u["pinned"], true);
    assert_eq!(u["options"], Value::Null);
    assert_eq!(u["tags"], json!(["x"]));
    assert_eq!(u["model"], "llama3.2:1b");
    assert_eq!(u["system_prompt"], "Be brief.");
    assert!(u["updated_at"].as_str() >= c["updated_at"].as_str());
    let b = expect(
        alice
            .update(&id, json!({"archived": true, "title": null}))
            .await,
        200,
    )
    .await;
    assert_eq!(b["conversation"]["archived"], true);
    assert_eq!(b["conversation"]["title"], Value::Null);

    // Delete, then it is gone everywhere.
    let del = alice
        .req(Method::DELETE, &format!("/api/conversations/{id}"))
        .go()
        .await;
    assert_eq!(del.status(), 204);
    for (m, p) in [
        (Method::GET, format!("/api/conversations/{id}")),
        (Method::DELETE, format!("/api/conversations/{id}")),
        (Method::GET, format!("/api/conversations/{id}/messages")),
    ] {
        expect_error(alice.req(m, &p).go().await, 404, "NOT_FOUND").await;
    }
    let archived = alice.list("?archived=true").await;
    assert!(!ids(archived["items"].as_array().map_or(&[][..], |v| v)).contains(&id));
}

#[tokio::test]
async fn invalid_inputs_are_refused_with_the_field_named() {
    let app = spawn_app().await;
    let alice = Api::new(&app).await;
    let id = id_of(&alice.create(json!({"title": "t"})).await);
    let cases: Vec<(Value, &str)> = vec![
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"title": "line\nbreak"}), "title"),
        (json!({"title": 5}), "title"),
        (json!({"system_prompt": "é".repeat(8001)}), "system_prompt"),
        (
            json!({"tags": (0..11).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
            "tags",
        ),
        (json!({"tags": ["ok", "x".repeat(33)]}), "tags[1]"),
        (json!({"tags": [""]}), "tags[0]"),
        (json!({"tags": "rust"}), "tags"),
        (json!({"options": [1, 2]}), "options"),
        (
            json!({"options": {"nested": {"deep": 1}}}),
            "options.nested",
        ),
        // Ollama refuses a request whose known option has another type (500), so a stored
        // one would fail every answer of the conversation.
        (
            json!({"options": {"temperature": "hot"}}),
            "options.temperature",
        ),
        (json!({"options": {"stop": "END"}}), "options.stop"),
        (json!({"model": "no spaces please"}), "model"),
        (json!({"model": ""}), "model"),
        (json!({"colour": "blue"}), "colour"),
    ];
    for (bad, field) in &cases {
        let created = alice
            .req(Method::POST, "/api/conversations")
            .json(bad)
            .go()
            .await;
        let b = expect_error(created, 400, "VALIDATION_ERROR").await;
        assert_eq!(b["error"]["details"]["field"], *field, "create {bad}: {b}");
        let b = expect_error(
            alice.update(&id, bad.clone()).await,
            400,
            "VALIDATION_ERROR",
        )
        .await;
        assert_eq!(b["error"]["details"]["field"], *field, "patch {bad}: {b}");
    }
    for (bad, field) in [
        (json!({"pinned": null}), "pinned"),
        (json!({"archived": "yes"}), "archived"),
    ] {
        let b = expect_error(
            alice.update(&id, bad.clone()).await,
            400,
            "VALIDATION_ERROR",
        )
        .await;
        assert_eq!(b["error"]["details"]["field"], field, "{bad}: {b}");
    }
    // The limits themselves are allowed.
    alice
        .create(
            json!({"title": "x".repeat(200), "system_prompt": "é".repeat(8000),
                       "tags": (0..10).map(|i| format!("{i:0>32}")).collect::<Vec<_>>()}),
        )
        .await;
    // Not JSON, wrong content type, bad query parameters.
    let raw = alice
        .req(Method::POST, "/api/conversations")
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .go()
        .await;
    expect_error(raw, 400, "INVALID_JSON").await;
    let text = alice
        .req(Method::POST, "/api/conversations")
        .header("content-type", "text/plain")
        .body("title")
        .go()
        .await;
    expect_error(text, 415, "UNSUPPORTED_MEDIA_TYPE").await;
    // Each bad parameter is named, so a client can tell which one to fix.
    for (q, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=abc", "limit"),
        ("?limit=-1", "limit"),
        ("?archived=maybe", "archived"),
        ("?pinned=1&pinned=0", "pinned"),
        ("?sort=asc", "sort"),
    ] {
        let r = alice
            .req(Method::GET, &format!("/api/conversations{q}"))
            .go()
            .await;
        let b = expect_error(r, 400, "VALIDATION_ERROR").await;
        assert_eq!(b["error"]["details"]["field"], field, "{q}: {b}");
    }
    // Without a token, every route is 401.
    for (m, p) in [
        (Method::GET, "/api/conversations".to_string()),
        (Method::POST, "/api/conversations".to_string()),
        (Method::GET, format!("/api/conversations/{id}")),
        (Method::GET, "/api/conversations/export".to_string()),
        (Method::POST, format!("/api/conversations/{id}/share")),
    ] {
        let resp = reqwest::Client::new().request(m, app.at(&p)).go().await;
        expect_error(resp, 401, "UNAUTHENTICATED").await;
    }
}

#[tokio::test]
async fn list_pages_newest_first_and_stay_stable_while_conversations_arrive() {
    let app = spawn_app().await;
    let alice = Api::new(&app).await;
    let mut created = Vec::new();
    for i in 0..12 {
        created.push(alice.create(json!({"title": format!("c{i}")})).await);
    }
    // Newest first: by (updated_at, id), which is creation order up to ties within a
    // millisecond.
    let mut expected = created.clone();
    expected.sort_by_key(|c| (c["updated_at"].as_str().map(str::to_string), id_of(c)));
    let expected: Vec<String> = expected.iter().rev().map(id_of).collect();
    let created: Vec<String> = created.iter().map(id_of).collect();
    // Page by page, with new conversations created between pages.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("?limit=5&cursor={c}"),
            None => "?limit=5".into(),
        };
        let page = alice.list(&q).await;
        seen.extend(ids(page["items"].as_array().map_or(&[][..], |v| v)));
        alice.create(json!({"title": "arrived meanwhile"})).await;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.into()),
            None => break,
        }
    }
    assert_eq!(
        seen, expected,
        "every original once, newest first, none of the new ones"
    );

    // An update moves a conversation ahead of the others.
    alice.update(&created[0], json!({"title": "touched"})).await;
    let now = ids(found_items(&alice.list("?limit=100").await));
    let pos = |id: &String| now.iter().position(|x| x == id);
    assert!(
        created[1..].iter().all(|c| pos(&created[0]) < pos(c)),
        "{now:?}"
    );
}

#[tokio::test]
async fn filters_archived_pinned_and_tag() {
    let app = spawn_app().await;
    let alice = Api::new(&app).await;
    let plain = id_of(&alice.create(json!({"tags": ["rust"]})).await);
    let pinned = id_of(&alice.create(json!({"tags": ["go"]})).await);
    alice.update(&pinned, json!({"pinned": true})).await;
    let archived = id_of(&alice.create(json!({"tags": ["rust"]})).await);
    alice.update(&archived, json!({"archived": true})).await;

    let set = |v: Value| -> HashSet<String> {
        ids(v["items"].as_array().map_or(&[][..], |v| v))
            .into_iter()
            .collect()
    };
    let all = set(alice.list("").await);
    assert_eq!(
        all,
        HashSet::from([plain.clone(), pinned.clone()]),
        "archived hidden by default"
    );
    assert_eq!(
        set(alice.list("?archived=true").await),
        HashSet::from([archived.clone()])
    );
    assert_eq!(
        set(alice.list("?pinned=true").await),
        HashSet::from([pinned.clone()])
    );
    assert_eq!(
        set(alice.list("?tag=rust").await),
        HashSet::from([plain.clone()])
    );
    assert_eq!(
        set(alice.list("?tag=rust&archived=true").await),
        HashSet::from([archived.clone()])
    );
    assert!(set(alice.list("?tag=none").await).is_empty());
    // Changing tags moves the conversation between tag lists.
    alice.update(&plain, json!({"tags": ["go"]})).await;
    assert!(set(alice.list("?tag=rust").await).is_empty());
    assert_eq!(
        set(alice.list("?tag=go").await),
        HashSet::from([plain, pinned])
    );
}

#[tokio::test]
async fn cursors_are_tamper_checked_and_bound_to_user_and_filter() {
    let app = spawn_app().await;
    let alice = Api::new(&app).await;
    let bob = Api::new(&app).await;
    for _ in 0..3 {
        alice.create(json!({})).await;
    }
    let cursor = text_at(&alice.list("?limit=1").await, "/next_cursor");
    assert!(!cursor.is_empty());
    let mut flipped = cursor.clone().into_bytes();
    flipped[2] = if flipped[2] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap_or_default();
    for (who, q) in [
        (&alice, format!("?cursor={flipped}")),
        (&alice, "?cursor=not-a-cursor".to_string()),
        (&alice, format!("?cursor={cursor}&archived=true")),
        (&alice, format!("?cursor={cursor}&q=hello")),
        (&bob, format!("?cursor={cursor}")),
    ] {
        let r = who
            .req(Method::GET, &format!("/api/conversations{q}"))
            .go()
            .await;
        let b = expect_error(r, 400, "VALIDATION_ERROR").await;
        assert_eq!(b["error"]["details"]["field"], "cursor", "{q}");
    }
    // The good cursor still works for its owner.
    let page = alice.list(&format!("?limit=1&cursor={cursor}")).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn messages_are_listed_oldest_first_in_pages() {
    let app = spawn_app().await;
    let alice = Api::new(&app).await;
    let msgs: Vec<(String, String)> = (0..7)
        .map(|i| {
            let role = if i % 2 == 0 { "user" } else { "assistant" };
            (role.to_string(), format!("message number {i}"))
        })
        .collect();
    let pairs: Vec<(&str, &str)> = msgs.iter().map(|(r, c)| (r.as_str(), c.as_str())).collect();
    let id = alice.seeded("paged", &pairs).await;
    let items = alice
        .all_pages(&format!("/api/conversations/{id}/messages"), 3)
        .await;
    let contents: Vec<&str> = items.iter().filter_map(|m| m["content"].as_str()).collect();
    let expected: Vec<&str> = msgs.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(contents, expected);
    let m = &items[1];
    assert_eq!(m["role"], "assistant");
    assert_eq!(m["conversation_id"], id.as_str());
    assert_eq!(m["status"], "complete");
    for k in ["thinking", "model", "usage"] {
        assert_eq!(m[k], Value::Null, "{k}");
    }
    let c = expect(
        alice
            .req(Method::GET, &format!("/api/conversations/{id}"))
            .go()
            .await,
        200,
    )
    .await;
    assert_eq!(c["conversation"]["message_count"], 7);
    // A message cursor belongs to its conversation.
    let other = alice.seeded("other", &[("user", "hi")]).await;
    let first = expect(
        alice
            .req(
                Method::GET,
                &format!("/api/conversations/{id}/messages?limit=2"),
            )
            .go()
            .await,
        200,
    )
    .await;
    let cursor = &text_at(&first, "/next_cursor");
    let r = alice
        .req(
            Method::GET,
            &format!("/api/conversations/{other}/messages?cursor={cursor}"),
        )
        .go()
        .await;
    expect_error(r, 400, "VALIDATION_ERROR").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_through_search_results_gives_each_once_while_others_write() {
    // Arrange: two of alice's conversations match, one better than the other.
    let app = spawn_app().await;
    let alice = Api::new(&app).await;
    let bob = Api::new(&app).await;
    let strong = alice
        .seeded(
            "Kubernetes",
            &[
                ("user", "kubernetes pods"),
                ("assistant", "kubernetes nodes"),
            ],
        )
        .await;
    let weak = alice
        .seeded(
            "Notes",
            &[(
                "user",
                "a long note that mentions kubernetes once among many other words",
            )],
        )
        .await;
    let first = alice.list("?q=kubernetes&limit=1").await;
    assert_eq!(ids(found_items(&first)), vec![strong.clone()]);
    let cursor = text_at(&first, "/next_cursor");

    // Act: another user writes a lot, which moves every BM25 score (its statistics are
    // the whole index's), then alice asks for the next page.
    let messages: Vec<Value> = (0..400)
        .map(|i| json!({"role": "user", "content": format!("unrelated words number {i}")}))
        .collect();
    let doc = json!({"conversations": [{"title": "bulk", "messages": messages}]});
    expect(bob.import(&doc).await, 201).await;
    let second = alice
        .list(&format!("?q=kubernetes&limit=1&cursor={cursor}"))
        .await;

    // Assert: the next result, not the first one again nor nothing.
    assert_eq!(ids(found_items(&second)), vec![weak], "{second}");
}

#[tokio::test]
async fn search_ranks_matches_with_snippets_and_stays_in_scope() {
    let app = spawn_app().await;
    let alice = Api::new(&app).await;
    let bob = Api::new(&app).await;
    let strong = alice
        .seeded(
            "Kubernetes deployment",
            &[
                ("user", "How do I deploy to kubernetes?"),
                ("assistant", "Use a kubernetes Deployment and a Service."),
            ],
        )
        .await;
    let weak = alice
        .seeded(
            "Cooking",
            &[
                ("user", "What goes well with pasta? I once read about kubernetes in a magazine while waiting for the water to boil, but that is unrelated to the sauce question."),
                ("assistant", "Tomatoes, basil and garlic."),
            ],
        )
        .await;
    let unrelated = alice
        .seeded("Gardening", &[("user", "When to plant tulips?")])
        .await;
    bob.seeded(
        "Bob's kubernetes notes",
        &[("user", "kubernetes kubernetes")],
    )
    .await;

    let found = alice.list("?q=Kubernetes").await;
    let items = items(&found);
    assert_eq!(
        ids(&items),
        vec![strong.clone(), weak.clone()],
        "ranked, alice's only"
    );
    for item in &items {
        let snippet = &text_at(item, "/snippet");
        assert!(
            snippet.to_lowercase().contains("**kubernetes**"),
            "{snippet}"
        );
    }
    // Every word must match (in one message, or in the title); case does not matter;
    // titles are searched too.
    assert_eq!(
        ids(found_items(&alice.list("?q=PASTA%20magazine").await)),
        vec![weak.clone()]
    );
    assert!(found_items(&alice.list("?q=pasta%20basil").await).is_empty());
    assert_eq!(
        ids(found_items(&alice.list("?q=tulips").await)),
        vec![unrelated.clone()]
    );
    assert_eq!(
        ids(found_items(&alice.list("?q=gardening").await)),
        vec![unrelated.clone()]
    );
    assert!(found_items(&alice.list("?q=tulips%20pasta").await).is_empty());
    // Paging through results gives each once.
    let paged = alice.all_pages("/api/conversations?q=kubernetes", 1).await;
    assert_eq!(ids(&paged), vec![strong.clone(), weak.clone()]);
    // Archived conversations are found with archived=true, as in the list.
    alice.update(&weak, json!({"archived": true})).await;
    assert_eq!(
        ids(found_items(&alice.list("?q=kubernetes").await)),
        vec![strong.clone()]
    );
    assert_eq!(
        ids(found_items(
            &alice.list("?q=kubernetes&archived=true").await
        )),
        vec![weak.clone()]
    );
    // Deleted conversations leave the index.
    alice
        .req(Method::DELETE, &format!("/api/conversations/{strong}"))
        .go()
        .await;
    assert!(found_items(&alice.list("?q=deployment").await).is_empty());
}

fn found_items(v: &Value) -> &[Value] {
    v["items"].as_array().map_or(&[][..], |v| v)
}

#[tokio::test]
async fn hostile_search_queries_never_error() {
    let app = spawn_app().await;
    let alice = Api::new(&app).await;
    let id = alice
        .seeded(
            "quotes",
            &[("user", "she said \"hello world\" AND left (quickly)")],
        )
        .await;
    let hostile = [
        "\"",
        "\"\"",
        "'",
        "*",
        "hello*",
        "NEAR(hello world)",
        "hello AND",
        "OR",
        "NOT hello",
        "-hello",
        "^hello",
        "content:hello",
        "user_id:x",
        "{content}: hello",
        "(",
        ")",
        "((a)",
        "a\"b",
        "%",
        "_",
        "\\",
        ";DROP TABLE messages;--",
        // (A NUL is refused before search: see hardening.rs, hostile input.)
        "🙂",
        "\u{202e}olleh",
        "+",
        ":",
        "NEAR/2",
        "hello OR world",
        "'); DELETE FROM conversations; --",
    ];
    for q in hostile {
        let url = format!("/api/conversations?q={}", url_escape(q));
        let (status, b) = body(alice.req(Method::GET, &url).go().await).await;
        assert_eq!(status, 200, "{q:?}: {b}");
        assert!(b["items"].is_array(), "{q:?}: {b}");
    }
    // Quoted syntax is just words: these find the message.
    for q in [
        "\"hello",
        "hello*",
        "said:hello",
        "(quickly)",
        "hello AND",
        "world\"",
    ] {
        let b = alice.list(&format!("?q={}", url_escape(q))).await;
        assert_eq!(ids(found_items(&b)), vec![id.clone()], "{q:?}");
    }
    let long = "a".repeat(501);
    let r = alice
        .req(Method::GET, &format!("/api/conversations?q={long}"))
        .go()
        .await;
    let b = expect_error(r, 400, "VALIDATION_ERROR").await;
    assert_eq!(b["error"]["details"]["field"], "q");
    // Everything still works afterwards.
    assert_eq!(
        alice.list("").await["items"].as_array().map(Vec::len),
        Some(1)
    );
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn export_import_export_is_lossless_apart_from_ids_and_times() {
    let app = spawn_app().await;
    let alice = Api::new(&app).await;
    let doc = json!({"version": 1, "conversations": [
        {"title": "First", "model": "qwen3:0.6b", "system_prompt": "Think.", "options": {"temperature": 0.1},
         "pinned": true, "archived": false, "tags": ["a", "b"],
         "messages": [
            {"role": "system", "content": "Be nice."},
            {"role": "user", "content": "Why is the sky blue?"},
            {"role": "assistant", "content": "Rayleigh scattering.", "thinking": "Physics.", "model": "qwen3:0.6b",
             "status": "incomplete", "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_duration_ms": 12.5,
             "load_duration_ms": 1.0, "eval_duration_ms": 10.0, "tokens_per_second": 300.0}}]},
        {"title": null, "archived": true, "messages": []}
    ]});
    let imported = expect(alice.import(&doc).await, 201).await;
    assert_eq!(imported["imported"], 2);
    let first = expect(
        alice
            .req(Method::GET, "/api/conversations/export")
            .go()
            .await,
        200,
    )
    .await;
    assert_eq!(first["version"], 1);
    assert_eq!(first["conversations"].as_array().map(Vec::len), Some(2));
    // Feed the export back unchanged, then export again.
    let again = expect(alice.import(&first).await, 201).await;
    assert_eq!(again["imported"], 2);
    let second = expect(
        alice
            .req(Method::GET, "/api/conversations/export")
            .go()
            .await,
        200,
    )
    .await;
    let new_ids: HashSet<String> = again["ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let reimported: Vec<Value> = found_in(&second, &new_ids);
    let originals: Vec<Value> = first["conversations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(reimported.len(), 2);
    let strip = |c: &Value| {
        let mut c = c.clone();
        for k in ["id", "created_at", "updated_at"] {
            c[k] = Value::Null;
        }
        if let Some(ms) = c["messages"].as_array_mut() {
            for m in ms {
                for k in ["id", "conversation_id", "created_at"] {
                    m[k] = Value::Null;
                }
            }
        }
        c
    };
    let a: Vec<Value> = originals.iter().map(strip).collect();
    let b: Vec<Value> = reimported.iter().map(strip).collect();
    assert_eq!(a, b);
    assert_eq!(originals[0]["message_count"], 3);
    assert_eq!(originals[0]["messages"][2]["usage"]["completion_tokens"], 3);
    assert_ne!(originals[0]["id"], reimported[0]["id"]);
}

fn found_in(doc: &Value, ids: &HashSet<String>) -> Vec<Value> {
    doc["conversations"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|c| c["id"].as_str().is_some_and(|i| ids.contains(i)))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn import_is_all_or_nothing_and_names_the_bad_field() {
    let app = spawn_app().await;
    let alice = Api::new(&app).await;
    let good = json!({"title": "fine", "messages": [{"role": "user", "content": "hi"}]});
    let cases = [
        (
            json!({"title": "x".repeat(201), "messages": []}),
            "conversations[1].title",
        ),
        (
            json!({"messages": [{"role": "robot", "content": "x"}]}),
            "conversations[1].messages[0].role",
        ),
        (
            json!({"messages": [{"role": "user"}]}),
            "conversations[1].messages[0].content",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x", "status": "done"}]}),
            "conversations[1].messages[0].status",
        ),
        (
            json!({"tags": (0..11).map(|i| format!("t{i}")).collect::<Vec<_>>(), "messages": []}),
            "conversations[1].tags",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x", "model": "bad model"}]}),
            "conversations[1].messages[0].model",
        ),
        (
            json!({"messages": [], "secret": 1}),
            "conversations[1].secret",
        ),
    ];
    for (bad, field) in cases {
        let doc = json!({"conversations": [good.clone(), bad.clone()]});
        let b = expect_error(alice.import(&doc).await, 400, "VALIDATION_ERROR").await;
        assert_eq!(b["error"]["details"]["field"], field, "{bad}: {b}");
    }
    let wrong_version = json!({"version": 2, "conversations": [good.clone()]});
    expect_error(alice.import(&wrong_version).await, 400, "VALIDATION_ERROR").await;
    let listed = alice.list("?archived=false").await;
    assert!(
        found_items(&listed).is_empty(),
        "nothing was imported: {listed}"
    );
    let exported = expect(
        alice
            .req(Method::GET, "/api/conversations/export")
            .go()
            .await,
        200,
    )
    .await;
    assert_eq!(exported["conversations"], json!([]));
}

#[tokio::test]
async fn import_takes_exports_larger_than_the_general_body_limit() {
    let app = spawn_app_with(AppConfig {
        variables: vec![("body_limit_bytes".into(), "2048".into())],
        ..AppConfig::default()
    })
    .await;
    if app.skip_external("settings of its own (body_limit_bytes)") {
        return;
    }
    let alice = Api::new(&app).await;
    let big = "lorem ipsum ".repeat(1000);
    let doc = json!({"conversations": [{"messages": [{"role": "user", "content": big}]}]});
    expect(alice.import(&doc).await, 201).await;
    let create = alice
        .req(Method::POST, "/api/conversations")
        .json(&json!({"system_prompt": big}))
        .go()
        .await;
    expect_error(create, 413, "PAYLOAD_TOO_LARGE").await;
}

#[tokio::test]
async fn single_export_downloads_json_and_markdown() {
    let app = spawn_app().await;
    let alice = Api::new(&app).await;
    let id = alice
        .seeded(
            "Deploy: K8s / \"prod\"",
            &[("user", "How?"), ("assistant", "With `kubectl apply`.")],
        )
        .await;
    let resp = alice
        .req(Method::GET, &format!("/api/conversations/{id}/export"))
        .go()
        .await;
    assert_eq!(resp.status(), 200);
    let disposition = header(&resp, "content-disposition").unwrap_or_default();
    assert_eq!(disposition, "attachment; filename=\"deploy-k8s-prod.json\"");
    let doc: Value = json(resp).await;
    assert_eq!(
        doc["conversations"][0]["messages"][1]["content"],
        "With `kubectl apply`."
    );
    // The single export is importable.
    let copy = expect(alice.import(&doc).await, 201).await;
    assert_eq!(copy["imported"], 1);

    let resp = alice
        .req(
            Method::GET,
            &format!("/api/conversations/{id}/export?format=markdown"),
        )
        .go()
        .await;
    assert_eq!(resp.status(), 200);
    let h = |n: &str| header(&resp, n).unwrap_or_default();
    assert_eq!(h("content-type"), "text/markdown; charset=utf-8");
    assert_eq!(
        h("content-disposition"),
        "attachment; filename=\"deploy-k8s-prod.md\""
    );
    assert_eq!(h("cache-control"), "no-store");
    let md = text(resp).await;
    assert!(md.starts_with("# Deploy: K8s / \"prod\"\n"), "{md}");
    assert!(md.contains("## User") && md.contains("How?"), "{md}");
    assert!(
        md.contains("## Assistant") && md.contains("With `kubectl apply`."),
        "{md}"
    );

    let bad = alice
        .req(
            Method::GET,
            &format!("/api/conversations/{id}/export?format=pdf"),
        )
        .go()
        .await;
    expect_error(bad, 400, "VALIDATION_ERROR").await;
}

/// Shares `id` as its owner: the link.
async fn share(owner: &Api<'_>, id: &str) -> Value {
    let made = owner
        .req(Method::POST, &format!("/api/conversations/{id}/share"))
        .go()
        .await;
    expect(made, 201).await
}

/// A shared link's page holds the title, model and messages (role, content, time) and
/// nothing else of the owner's: no system prompt, tags, username or id.
fn assert_only_the_snapshot(public: &Value, owner: &Api<'_>) {
    assert_eq!(public["title"], "Shared chat");
    let keys = |v: &Value| {
        let mut k: Vec<String> = v
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k
    };
    assert_eq!(keys(public), ["created_at", "messages", "model", "title"]);
    assert_eq!(
        keys(&public["messages"][1]),
        ["content", "created_at", "role"]
    );
    assert_eq!(public["messages"][1]["content"], "Answer");
    let text = public.to_string();
    assert!(!text.contains("secret instructions") && !text.contains("private-tag"));
    assert!(!text.contains(&owner.user.username) && !text.contains(&owner.user.id));
}

#[tokio::test]
async fn share_links_show_a_read_only_snapshot_until_revoked() {
    let app = spawn_app().await;
    let alice = Api::new(&app).await;
    let id = alice
        .seeded(
            "Shared chat",
            &[("user", "Question"), ("assistant", "Answer")],
        )
        .await;
    alice
        .update(
            &id,
            json!({"system_prompt": "secret instructions", "tags": ["private-tag"]}),
        )
        .await;
    let link = share(&alice, &id).await;
    let token = text_at(&link, "/token");
    assert!(token.len() >= 43, "{link}");
    let url = &text_at(&link, "/url");
    assert_eq!(*url, app.at(&format!("/api/shared/{token}")));

    // Anyone can read it, without a token.
    let public = reqwest::get(url).await.map_err(|e| e.to_string());
    let public = expect(public.unwrap_or_else(|e| panic!("{e}")), 200).await;
    assert_only_the_snapshot(&public, &alice);

    // Sharing again replaces the link; revoking ends it; unknown tokens are 404.
    let second = share(&alice, &id).await;
    let token2 = text_at(&second, "/token");
    assert_ne!(token, token2);
    expect_error(
        app.get(&format!("/api/shared/{token}")).go().await,
        404,
        "NOT_FOUND",
    )
    .await;
    expect(app.get(&format!("/api/shared/{token2}")).go().await, 200).await;
    let revoke = alice
        .req(Method::DELETE, &format!("/api/conversations/{id}/share"))
        .go()
        .await;
    assert_eq!(revoke.status(), 204);
    expect_error(
        app.get(&format!("/api/shared/{token2}")).go().await,
        404,
        "NOT_FOUND",
    )
    .await;
    let again = alice
        .req(Method::DELETE, &format!("/api/conversations/{id}/share"))
        .go()
        .await;
    expect_error(again, 404, "NOT_FOUND").await;
    for bogus in ["x", "../../etc/passwd", &"A".repeat(43), &"A".repeat(400)] {
        expect_error(
            app.get(&format!("/api/shared/{bogus}")).go().await,
            404,
            "NOT_FOUND",
        )
        .await;
    }

    // Deleting the conversation ends its link too.
    let third = share(&alice, &id).await;
    let token3 = text_at(&third, "/token");
    alice
        .req(Method::DELETE, &format!("/api/conversations/{id}"))
        .go()
        .await;
    expect_error(
        app.get(&format!("/api/shared/{token3}")).go().await,
        404,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn another_users_conversations_are_not_found_on_every_route() {
    let app = spawn_app().await;
    let alice = Api::new(&app).await;
    let bob = Api::new(&app).await;
    let id = alice
        .seeded(
            "alice private",
            &[("user", "alice secret words"), ("assistant", "ok")],
        )
        .await;
    for _ in 0..2 {
        alice.create(json!({})).await;
    }
    let share = expect(
        alice
            .req(Method::POST, &format!("/api/conversations/{id}/share"))
            .go()
            .await,
        201,
    )
    .await;
    let messages = expect(
        alice
            .req(
                Method::GET,
                &format!("/api/conversations/{id}/messages?limit=1"),
            )
            .go()
            .await,
        200,
    )
    .await;
    let msg_cursor = text_at(&messages, "/next_cursor");

    // Bob on every route with Alice's id: 404, as for an id that does not exist.
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/conversations/{id}"), None),
        (
            Method::PATCH,
            format!("/api/conversations/{id}"),
            Some(json!({"title": "mine now"})),
        ),
        (Method::DELETE, format!("/api/conversations/{id}"), None),
        (
            Method::GET,
            format!("/api/conversations/{id}/messages"),
            None,
        ),
        (
            Method::GET,
            format!("/api/conversations/{id}/messages?cursor={msg_cursor}"),
            None,
        ),
        (Method::GET, format!("/api/conversations/{id}/export"), None),
        (
            Method::GET,
            format!("/api/conversations/{id}/export?format=markdown"),
            None,
        ),
        (Method::POST, format!("/api/conversations/{id}/share"), None),
        (
            Method::DELETE,
            format!("/api/conversations/{id}/share"),
            None,
        ),
    ];
    for (m, p, b) in &routes {
        let mut req = bob.req(m.clone(), p);
        if let Some(b) = b {
            req = req.json(b);
        }
        let resp = req.go().await;
        let got = expect_error(resp, 404, "NOT_FOUND").await;
        // Same answer as a made-up id.
        let fake = p.replace(&id, "0123456789abcdef0123456789abcdef");
        let mut req = bob.req(m.clone(), &fake);
        if let Some(b) = b {
            req = req.json(b);
        }
        let made_up = expect_error(req.go().await, 404, "NOT_FOUND").await;
        assert_eq!(
            got["error"]["message"], made_up["error"]["message"],
            "{m} {p}"
        );
    }
    // Alice's conversation is unchanged, still shared, and invisible to Bob's lists,
    // search and export.
    let still = expect(
        alice
            .req(Method::GET, &format!("/api/conversations/{id}"))
            .go()
            .await,
        200,
    )
    .await;
    assert_eq!(still["conversation"]["title"], "alice private");
    let token = &text_at(&share, "/token");
    expect(app.get(&format!("/api/shared/{token}")).go().await, 200).await;
    assert!(found_items(&bob.list("").await).is_empty());
    assert!(found_items(&bob.list("?q=secret").await).is_empty());
    let export = expect(
        bob.req(Method::GET, "/api/conversations/export").go().await,
        200,
    )
    .await;
    assert_eq!(export["conversations"], json!([]));
}

#[tokio::test]
async fn deleting_a_user_deletes_their_conversations() {
    let app = spawn_app().await;
    if app.skip_external("a fresh database (its first user is the admin)") {
        return;
    }
    let admin = Api::new(&app).await; // the first user is the admin
    let bob = Api::new(&app).await;
    let id = bob.seeded("bob's", &[("user", "uniqueword")]).await;
    let share = expect(
        bob.req(Method::POST, &format!("/api/conversations/{id}/share"))
            .go()
            .await,
        201,
    )
    .await;
    let del = admin
        .req(Method::DELETE, &format!("/api/admin/users/{}", bob.user.id))
        .go()
        .await;
    assert_eq!(del.status(), 204);
    let token = &text_at(&share, "/token");
    expect_error(
        app.get(&format!("/api/shared/{token}")).go().await,
        404,
        "NOT_FOUND",
    )
    .await;
    if let Some(db) = app.database_path() {
        let conn = rusqlite::Connection::open(db).unwrap_or_else(|e| panic!("{e}"));
        let count = |sql: &str| -> i64 {
            conn.query_row(sql, [], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        };
        let uid = &bob.user.id;
        for table in [
            "conversations",
            "messages",
            "share_links",
            "conversation_tags",
        ] {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE user_id = '{uid}'");
            assert_eq!(count(&sql), 0, "{table}");
        }
        let fts = "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'uniqueword'";
        assert_eq!(count(fts), 0);
    }
}
