//! A table of hostile inputs: each gets a clean 4xx envelope and nothing is stored half way.

use reqwest::Method;
use serde_json::json;
use test_support::testing::{Api, SendExt, expect, spawn_app, text};

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

/// A password the rules accept, so that only the field under test is wrong.
const PASSWORD: &str = "a long enough password 12345";

fn json_bytes(v: serde_json::Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

/// Injection where the syntax is checked or where it names a row, and NUL and control
/// characters in every kind of text.
fn injections_and_control_characters(chat: &str) -> Vec<Torture> {
    vec![
        // SQL injection where the syntax is checked, or where it names a row.
        torture(
            "SQL in a username",
            Method::POST,
            "/api/auth/register",
            json_bytes(json!({"username": "admin' --", "password": PASSWORD})),
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
            chat,
            json_bytes(json!({"content": "hi\u{0}there", "stream": false})),
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "bell in a message",
            Method::POST,
            chat,
            json_bytes(json!({"content": "ding\u{7}", "stream": false})),
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "NUL in a username",
            Method::POST,
            "/api/auth/register",
            json_bytes(json!({"username": "a\u{0}b", "password": PASSWORD})),
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
    ]
}

/// Bodies that are not UTF-8, nested too deep, numbers out of range, 1 MB strings, and Unicode
/// tricks where the syntax is fixed.
fn encodings_depths_and_sizes(chat: &str) -> Vec<Torture> {
    let deep = |n: usize| {
        let mut v = vec![b'['; n];
        v.extend(vec![b']'; n]);
        v
    };
    let mut deep_options = b"{\"options\":{\"a\":".to_vec();
    deep_options.extend(deep(10_000));
    deep_options.extend(b"}}");
    let mega = "x".repeat(1_000_000);
    vec![
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
            chat,
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
            json_bytes(json!({"username": "ＡＤＭＩＮ", "password": PASSWORD})),
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "a right-to-left override in a username",
            Method::POST,
            "/api/auth/register",
            json_bytes(json!({"username": "abc\u{202e}gpj", "password": PASSWORD})),
            400,
            "VALIDATION_ERROR",
        ),
        torture(
            "a zero-width joiner in a model",
            Method::POST,
            chat,
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
    ]
}

/// Path parameters that cannot be an id name nothing, on every route that has one.
fn path_parameters() -> Vec<Torture> {
    let mut table = Vec::new();
    // Not UTF-8 once decoded, overlong, control characters, another alphabet.
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

    table
}

#[tokio::test]
async fn hostile_input_gets_a_clean_4xx_envelope_and_nothing_is_stored_half_way() {
    // Arrange: a user with one conversation.
    let app = spawn_app().await;
    let user = Api::new(&app).await;
    let cid = user.conversation(json!({"title": "kept"})).await;
    let chat = format!("/api/chat/{cid}/messages");
    let mut table = injections_and_control_characters(&chat);
    table.extend(encodings_depths_and_sizes(&chat));
    table.extend(path_parameters());

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
