//! Black-box tests of the auth section of API.md: accounts, tokens, sessions, API keys, roles,
//! the admin routes, and brute-force protection.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chat_core::auth::Role;
use chat_core::auth::jwt::{Claims, KeySet};
use reqwest::Method;
use serde_json::{Value, json};
use test_support::testing::{
    Api, AppConfig, SendExt, TestApp, TestUser, body, expect_error, items, spawn_app,
    spawn_app_with, text_at,
};

const SECRET: &str = "test-signing-secret";

/// An app with a known signing secret, so tests can forge and expire tokens.
async fn app_with(vars: &[(&str, &str)]) -> TestApp {
    let mut config = AppConfig::with_vars(vars);
    config.variables.push(("jwt_secret".into(), SECRET.into()));
    spawn_app_with(config).await
}

/// Registers an admin (the first user) and a plain user.
async fn admin_and_user(app: &TestApp) -> (Api<'_>, Api<'_>) {
    let admin = Api::new(app).await;
    let user = Api::new(app).await;
    (admin, user)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_user_is_admin_and_later_users_are_not() {
    let app = spawn_app().await;
    if app.skip_external("a fresh database (its first user is the admin)") {
        return;
    }

    let first = TestUser::generate();
    let (status, b) = body(first.register_request(&app).await).await;
    assert_eq!(status, 201, "{b}");
    assert_eq!(b["user"]["role"], "admin");
    assert_eq!(b["user"]["status"], "active");
    assert_eq!(b["user"]["username"], first.username.as_str());
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 900);
    assert!(
        b["access_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3)
    );
    assert!(
        b["refresh_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("ocr_"))
    );
    for field in ["id", "display_name", "email", "created_at"] {
        assert!(b["user"].get(field).is_some(), "user.{field}: {b}");
    }
    assert!(b["user"].get("password_hash").is_none() && !b.to_string().contains("argon2"));

    let second = Api::new(&app).await;
    let (_, b) = body(second.me().await).await;
    assert_eq!(b["user"]["role"], "user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usernames_are_unique_regardless_of_case() {
    let app = spawn_app().await;
    let user = Api::new(&app).await;

    let mut twin = TestUser::generate();
    twin.username = user.user.username.to_uppercase();
    let b = expect_error(twin.register_request(&app).await, 409, "USERNAME_TAKEN").await;
    assert_eq!(b["error"]["details"]["field"], "username");

    // Login is case-insensitive too.
    let mut again = user.clone();
    again.user.username = user.user.username.to_uppercase();
    again.user.login(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_and_invalid_registrations_are_refused_with_reasons() {
    let app = spawn_app().await;
    let weak = [
        ("short", "too_short"),
        ("aaaaaaaaaaaaaaaa", "too_simple"),
        ("abcdefghijklmnop", "sequence"),
        ("passwordpassword", "common"),
        ("qwertyuiopasdf", "common"),
    ];
    for (password, reason) in weak {
        let resp = app
            .post_signed_out(
                "/api/auth/register",
                &json!({"username": "someone", "password": password}),
            )
            .await;
        let b = expect_error(resp, 400, "WEAK_PASSWORD").await;
        assert_eq!(b["error"]["details"]["reason"], reason, "{password}");
    }
    let resp = app
        .post_signed_out(
            "/api/auth/register",
            &json!({"username": "someone", "password": "someone-is-my-name-1"}),
        )
        .await;
    let b = expect_error(resp, 400, "WEAK_PASSWORD").await;
    assert_eq!(b["error"]["details"]["reason"], "contains_personal_info");

    let invalid = [
        (json!({"password": "correct horse battery"}), "username"),
        (json!({"username": "someone"}), "password"),
        (
            json!({"username": "ab", "password": "correct horse battery"}),
            "username",
        ),
        (
            json!({"username": "has space", "password": "correct horse battery"}),
            "username",
        ),
        (
            json!({"username": 7, "password": "correct horse battery"}),
            "username",
        ),
        (
            json!({"username": "someone", "password": "correct horse battery", "role": "admin"}),
            "role",
        ),
        (
            json!({"username": "someone", "password": "correct horse battery", "email": "not-an-email"}),
            "email",
        ),
    ];
    for (payload, field) in invalid {
        let b = expect_error(
            app.post_signed_out("/api/auth/register", &payload.clone())
                .await,
            400,
            "VALIDATION_ERROR",
        )
        .await;
        assert_eq!(b["error"]["details"]["field"], field, "{payload}");
    }
    let bad_json = app
        .post("/api/auth/register")
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .go()
        .await;
    expect_error(bad_json, 400, "INVALID_JSON").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_user_look_the_same() {
    let app = spawn_app().await;
    let user = Api::new(&app).await;

    let wrong = expect_error(
        user.user
            .login_request(&app, "not the right password")
            .await,
        401,
        "INVALID_CREDENTIALS",
    )
    .await;
    let mut ghost = TestUser::generate();
    ghost.username = "nobody_here".into();
    let unknown = expect_error(
        ghost.login_request(&app, "not the right password").await,
        401,
        "INVALID_CREDENTIALS",
    )
    .await;

    assert_eq!(wrong["error"], unknown["error"]);
    let missing = app
        .post_signed_out("/api/auth/login", &json!({"username": "x"}))
        .await;
    let b = expect_error(missing, 400, "VALIDATION_ERROR").await;
    assert_eq!(b["error"]["details"]["field"], "password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_signup_leaves_users_pending_until_an_admin_activates_them() {
    let app = app_with(&[("signup", "approval")]).await;
    if app.skip_external("settings of its own (signup) and a fresh database") {
        return;
    }
    let admin = Api::new(&app).await; // the first user is always let in

    let pending = TestUser::generate();
    let (status, b) = body(pending.register_request(&app).await).await;
    assert_eq!(status, 201, "{b}");
    assert_eq!(b["user"]["status"], "pending");
    assert!(
        b.get("access_token").is_none(),
        "no tokens while pending: {b}"
    );
    let id = text_at(&b, "/user/id");

    expect_error(
        pending.login_request(&app, &pending.password).await,
        403,
        "ACCOUNT_PENDING",
    )
    .await;

    let approve = admin
        .patch(
            &format!("/api/admin/users/{id}"),
            &json!({"status": "active"}),
        )
        .await;
    let (s, b) = body(approve).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["user"]["status"], "active");
    let mut now_active = pending.clone();
    now_active.login(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_signup_refuses_everyone_after_the_first_user() {
    let app = app_with(&[("signup", "closed")]).await;
    if app.skip_external("settings of its own (signup) and a fresh database") {
        return;
    }
    TestUser::registered(&app).await;

    expect_error(
        TestUser::generate().register_request(&app).await,
        403,
        "SIGNUP_DISABLED",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_user_stops_their_tokens_and_keys_at_once() {
    let app = spawn_app().await;
    if app.skip_external("a fresh database (its first user is the admin)") {
        return;
    }
    let (admin, user) = admin_and_user(&app).await;
    let key = create_key(&app, user.token(), "laptop").await;
    assert_eq!(app.bearer(&key).me().await.status(), 200);

    let resp = admin
        .patch(
            &format!("/api/admin/users/{}", user.user.id),
            &json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(resp.status(), 200);

    expect_error(user.me().await, 401, "UNAUTHENTICATED").await;
    expect_error(app.bearer(&key).me().await, 401, "UNAUTHENTICATED").await;
    expect_error(
        refresh(&app, &user.user.refresh_token).await,
        401,
        "UNAUTHENTICATED",
    )
    .await;
    expect_error(
        user.user.login_request(&app, &user.user.password).await,
        403,
        "ACCOUNT_DISABLED",
    )
    .await;
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_signed_out("/api/auth/refresh", &json!({"refresh_token": token}))
        .await
}

/// A count from the database file: `SELECT COUNT(*) FROM {from}` with `params` bound.
fn count_rows(db: &std::path::Path, from: &str, params: &[&str]) -> i64 {
    rusqlite::Connection::open(db)
        .and_then(|c| {
            c.query_row(
                &format!("SELECT COUNT(*) FROM {from}"),
                rusqlite::params_from_iter(params),
                |r| r.get(0),
            )
        })
        .unwrap_or_else(|e| panic!("{e}"))
}

const SPENT_OF_USER: &str =
    "spent_refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE user_id = ?1)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_sessions_go_with_their_spent_tokens_when_someone_signs_in() {
    // Arrange: Alice's session (one token spent) ended long ago; Bob's is live.
    let app = spawn_app().await;
    let Some(db) = app.database_path() else {
        return; // needs the database file (not available against an external app)
    };
    let alice = Api::new(&app).await;
    let (status, _) = body(refresh(&app, &alice.user.refresh_token).await).await;
    assert_eq!(status, 200);
    let bob = Api::new(&app).await;
    assert_eq!(count_rows(&db, SPENT_OF_USER, &[&alice.user.id]), 1);
    rusqlite::Connection::open(&db)
        .and_then(|c| {
            c.execute(
                "UPDATE sessions SET expires_at = '2001-01-01T00:00:00.000Z' WHERE user_id = ?1",
                [&alice.user.id],
            )
        })
        .unwrap_or_else(|e| panic!("{e}"));

    // Act: anyone signs in.
    TestUser::registered(&app).await;

    // Assert
    assert_eq!(
        count_rows(&db, "sessions WHERE user_id = ?1", &[&alice.user.id]),
        0
    );
    assert_eq!(
        count_rows(
            &db,
            "spent_refresh_tokens WHERE session_id NOT IN (SELECT id FROM sessions)",
            &[]
        ),
        0,
        "spent tokens left without their session"
    );
    assert_eq!(
        count_rows(&db, "sessions WHERE user_id = ?1", &[&bob.user.id]),
        1
    );
    assert_eq!(bob.me().await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_keeps_its_hundred_latest_spent_tokens_and_a_replay_of_one_still_ends_it() {
    // Arrange: 103 refreshes in one session (no sign-in limit for the test's one address).
    let app = app_with(&[("rate_limit_auth", "0")]).await;
    let Some(db) = app.database_path() else {
        return; // needs the database file (not available against an external app)
    };
    let user = Api::new(&app).await;
    let mut spent = Vec::new();
    let mut current = user.user.refresh_token.clone();
    for _ in 0..103 {
        let (status, b) = body(refresh(&app, &current).await).await;
        assert_eq!(status, 200, "{b}");
        spent.push(std::mem::replace(
            &mut current,
            text_at(&b, "/refresh_token"),
        ));
    }

    // Assert: the oldest three are forgotten (refused, the session unharmed)...
    assert_eq!(count_rows(&db, SPENT_OF_USER, &[&user.user.id]), 100);
    expect_error(refresh(&app, &spent[0]).await, 401, "UNAUTHENTICATED").await;
    let (status, b) = body(refresh(&app, &current).await).await;
    assert_eq!(status, 200, "{b}");
    spent.push(std::mem::replace(
        &mut current,
        text_at(&b, "/refresh_token"),
    ));
    // ...while replaying one still kept ends the session.
    expect_error(refresh(&app, &spent[50]).await, 401, "UNAUTHENTICATED").await;
    expect_error(refresh(&app, &current).await, 401, "UNAUTHENTICATED").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_a_reused_token_ends_the_session() {
    let app = spawn_app().await;
    let user = Api::new(&app).await;

    let (status, first) = body(refresh(&app, &user.user.refresh_token).await).await;
    assert_eq!(status, 200, "{first}");
    let new_refresh = text_at(&first, "/refresh_token");
    let new_access = text_at(&first, "/access_token");
    assert_ne!(new_refresh, user.user.refresh_token);
    assert_eq!(app.bearer(&new_access).me().await.status(), 200);

    // The old token is spent: presenting it is a replay, which ends the session...
    expect_error(
        refresh(&app, &user.user.refresh_token).await,
        401,
        "UNAUTHENTICATED",
    )
    .await;
    // ...so the newest refresh token and the session's access tokens stop working too.
    expect_error(refresh(&app, &new_refresh).await, 401, "UNAUTHENTICATED").await;
    expect_error(app.bearer(&new_access).me().await, 401, "UNAUTHENTICATED").await;

    expect_error(
        refresh(&app, "ocr_not-a-token").await,
        401,
        "UNAUTHENTICATED",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let user = Api::new(&app).await;

    let resp = user.call(Method::POST, "/api/auth/logout").await;
    assert_eq!(resp.status(), 204);

    expect_error(
        refresh(&app, &user.user.refresh_token).await,
        401,
        "UNAUTHENTICATED",
    )
    .await;
    expect_error(user.me().await, 401, "UNAUTHENTICATED").await;
    let unauthenticated = app.post("/api/auth/logout").go().await;
    assert_eq!(
        unauthenticated
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    expect_error(unauthenticated, 401, "UNAUTHENTICATED").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_and_one_can_be_revoked() {
    let app = spawn_app().await;
    let user = Api::new(&app).await;
    let mut phone = user.clone();
    phone.user.login(&app).await;

    let (status, list) = body(user.get("/api/auth/sessions").await).await;
    assert_eq!(status, 200, "{list}");
    let items = items(&list);
    assert_eq!(items.len(), 2, "{list}");
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    for field in [
        "id",
        "created_at",
        "last_used_at",
        "expires_at",
        "user_agent",
        "ip",
        "current",
    ] {
        assert!(items[0].get(field).is_some(), "{field}: {list}");
    }
    let other = items
        .iter()
        .find(|s| s["current"] == false)
        .and_then(|s| s["id"].as_str())
        .unwrap_or_default()
        .to_string();

    let resp = user.delete(&format!("/api/auth/sessions/{other}")).await;
    assert_eq!(resp.status(), 204);
    expect_error(phone.me().await, 401, "UNAUTHENTICATED").await;
    expect_error(
        refresh(&app, &phone.user.refresh_token).await,
        401,
        "UNAUTHENTICATED",
    )
    .await;
    assert_eq!(user.me().await.status(), 200);

    // Someone else's session id is simply not found.
    let stranger = Api::new(&app).await;
    let resp = stranger
        .delete(&format!("/api/auth/sessions/{other}"))
        .await;
    expect_error(resp, 404, "NOT_FOUND").await;
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_tampered_tokens_are_refused() {
    let app = app_with(&[]).await;
    if app.skip_external("settings of its own (jwt_secret, to forge tokens)") {
        return;
    }
    TestUser::registered(&app).await; // the admin; the token under test is a plain user's
    let user = Api::new(&app).await;
    let keys = KeySet::from_secrets([SECRET]).unwrap_or_else(|| panic!("keys"));
    let now = chat_core::time::to_unix(&chat_core::time::now_rfc3339()).unwrap_or(0);
    let parts: Vec<&str> = user.token().split('.').collect();
    let claims: Claims =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));

    // A correctly signed token is accepted (the test knows the secret)...
    assert_eq!(app.bearer(&keys.sign(&claims)).me().await.status(), 200);

    // ...but not once expired.
    let expired = keys.sign(&Claims {
        iat: now - 3600,
        nbf: now - 3600,
        exp: now - 120,
        ..claims.clone()
    });
    expect_error(app.bearer(&expired).me().await, 401, "UNAUTHENTICATED").await;

    // Changed payload (make me admin), original signature.
    let admin = Claims {
        role: Role::Admin,
        ..claims.clone()
    };
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&admin).unwrap_or_default()),
        parts[2]
    );
    expect_error(app.bearer(&forged).me().await, 401, "UNAUTHENTICATED").await;

    // alg: none.
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap_or_default())
            .unwrap_or_default();
    let none = json!({"alg": "none", "typ": "JWT", "kid": header["kid"]});
    expect_error(
        app.bearer(&format!("{}.{}.", b64(&none), parts[1]))
            .me()
            .await,
        401,
        "UNAUTHENTICATED",
    )
    .await;

    // Another algorithm.
    let hs512 = json!({"alg": "HS512", "typ": "JWT", "kid": header["kid"]});
    expect_error(
        app.bearer(&format!("{}.{}.{}", b64(&hs512), parts[1], parts[2]))
            .me()
            .await,
        401,
        "UNAUTHENTICATED",
    )
    .await;

    // Signed with another key.
    let other = KeySet::from_secrets(["some-other-secret"]).unwrap_or_else(|| panic!("keys"));
    expect_error(
        app.bearer(&other.sign(&claims)).me().await,
        401,
        "UNAUTHENTICATED",
    )
    .await;

    for junk in ["", "Bearer", "a.b.c", "ock_nope"] {
        expect_error(app.bearer(junk).me().await, 401, "UNAUTHENTICATED").await;
    }
}

async fn create_key(app: &TestApp, token: &str, name: &str) -> String {
    let resp = app
        .bearer(token)
        .post("/api/auth/keys", &json!({"name": name}))
        .await;
    let (status, b) = body(resp).await;
    assert_eq!(status, 201, "{b}");
    text_at(&b, "/key")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_work_like_tokens_and_revoking_one_takes_effect_at_once() {
    let app = spawn_app().await;
    let user = Api::new(&app).await;

    let resp = user
        .post(
            "/api/auth/keys",
            &json!({"name": "ci", "expires_in_days": 30}),
        )
        .await;
    let (status, created) = body(resp).await;
    assert_eq!(status, 201, "{created}");
    let key = text_at(&created, "/key");
    let id = text_at(&created, "/id");
    assert!(key.starts_with("ock_") && key.len() > 40);
    assert!(key.starts_with(created["prefix"].as_str().unwrap_or("?")));
    assert!(created["expires_at"].is_string());

    let (status, who) = body(app.bearer(&key).me().await).await;
    assert_eq!(status, 200);
    assert_eq!(who["user"]["id"], user.user.id.as_str());

    let (_, list) = body(user.get("/api/auth/keys").await).await;
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert!(
        list["items"][0].get("key").is_none(),
        "the key is never shown again"
    );
    assert!(!list.to_string().contains(&key));

    let resp = user.delete(&format!("/api/auth/keys/{id}")).await;
    assert_eq!(resp.status(), 204);
    expect_error(app.bearer(&key).me().await, 401, "UNAUTHENTICATED").await;

    let stranger = Api::new(&app).await;
    let resp = stranger.delete(&format!("/api/auth/keys/{id}")).await;
    expect_error(resp, 404, "NOT_FOUND").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_a_key_keeps_the_old_one_only_for_the_grace_period() {
    let app = spawn_app().await;
    let user = Api::new(&app).await;
    let resp = user
        .post("/api/auth/keys", &json!({"name": "deploy"}))
        .await;
    let (_, old) = body(resp).await;
    let old_key = text_at(&old, "/key");
    let old_id = text_at(&old, "/id");

    // With an hour of grace, both keys work.
    let resp = user
        .post(
            &format!("/api/auth/keys/{old_id}/rotate"),
            &json!({"grace_seconds": 3600}),
        )
        .await;
    let (status, new) = body(resp).await;
    assert_eq!(status, 201, "{new}");
    let new_key = text_at(&new, "/key");
    let new_id = text_at(&new, "/id");
    assert_eq!(new["name"], "deploy");
    assert_eq!(app.bearer(&old_key).me().await.status(), 200);
    assert_eq!(app.bearer(&new_key).me().await.status(), 200);

    // Without grace (the default), the rotated key stops at once.
    let resp = user
        .call(Method::POST, &format!("/api/auth/keys/{new_id}/rotate"))
        .await;
    let (status, newest) = body(resp).await;
    assert_eq!(status, 201, "{newest}");
    expect_error(app.bearer(&new_key).me().await, 401, "UNAUTHENTICATED").await;
    assert_eq!(
        app.bearer(&text_at(&newest, "/key")).me().await.status(),
        200
    );

    let resp = user
        .post(
            &format!("/api/auth/keys/{old_id}/rotate"),
            &json!({"grace_seconds": -1}),
        )
        .await;
    expect_error(resp, 400, "VALIDATION_ERROR").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_are_for_admins_only() {
    let app = spawn_app().await;
    let (admin, user) = admin_and_user(&app).await;

    for (method, path) in [
        (Method::GET, "/api/admin/users".to_string()),
        (Method::PATCH, format!("/api/admin/users/{}", admin.user.id)),
        (
            Method::DELETE,
            format!("/api/admin/users/{}", admin.user.id),
        ),
    ] {
        let resp = user
            .req(method.clone(), &path)
            .json(&json!({"role": "user"}))
            .go()
            .await;
        expect_error(resp, 403, "FORBIDDEN").await;
        let anonymous = app.client.request(method, app.at(&path)).go().await;
        expect_error(anonymous, 401, "UNAUTHENTICATED").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_active_admin_cannot_be_demoted_disabled_or_deleted() {
    let app = spawn_app().await;
    if app.skip_external("a fresh database (its first user is the admin)") {
        return;
    }
    let (admin, user) = admin_and_user(&app).await;
    let path = format!("/api/admin/users/{}", admin.user.id);

    for change in [
        json!({"role": "user"}),
        json!({"status": "disabled"}),
        json!({"status": "pending"}),
    ] {
        let resp = admin.patch(&path, &change).await;
        expect_error(resp, 409, "CONFLICT").await;
    }
    let resp = admin.delete(&path).await;
    expect_error(resp, 409, "CONFLICT").await;

    // With a second admin, the first may step down; its role change holds at once.
    let promote = admin
        .patch(
            &format!("/api/admin/users/{}", user.user.id),
            &json!({"role": "admin"}),
        )
        .await;
    assert_eq!(promote.status(), 200);
    let step_down = admin.patch(&path, &json!({"role": "user"})).await;
    assert_eq!(step_down.status(), 200);
    let resp = admin.get("/api/admin/users").await;
    expect_error(resp, 403, "FORBIDDEN").await;

    let bad = user
        .patch(
            &format!("/api/admin/users/{}", user.user.id),
            &json!({"role": "owner"}),
        )
        .await;
    let b = expect_error(bad, 400, "VALIDATION_ERROR").await;
    assert_eq!(b["error"]["details"]["field"], "role");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_user_removes_their_data() {
    let app = spawn_app().await;
    if app.skip_external("a fresh database (its first user is the admin)") {
        return;
    }
    let (admin, user) = admin_and_user(&app).await;
    let key = create_key(&app, user.token(), "k").await;

    let resp = admin
        .delete(&format!("/api/admin/users/{}", user.user.id))
        .await;
    assert_eq!(resp.status(), 204);

    expect_error(user.me().await, 401, "UNAUTHENTICATED").await;
    expect_error(app.bearer(&key).me().await, 401, "UNAUTHENTICATED").await;
    expect_error(
        user.user.login_request(&app, &user.user.password).await,
        401,
        "INVALID_CREDENTIALS",
    )
    .await;
    let again = admin
        .delete(&format!("/api/admin/users/{}", user.user.id))
        .await;
    expect_error(again, 404, "NOT_FOUND").await;

    if let Some(db) = app.database_path() {
        let conn = rusqlite::Connection::open(db).unwrap_or_else(|e| panic!("{e}"));
        for table in [
            "users WHERE id",
            "sessions WHERE user_id",
            "api_keys WHERE user_id",
        ] {
            let n: i64 = conn
                .query_row(
                    &format!("SELECT COUNT(*) FROM {table} = ?1"),
                    [&user.user.id],
                    |r| r.get(0),
                )
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(n, 0, "{table}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_listed_in_pages_with_tamper_proof_cursors() {
    let app = spawn_app().await;
    if app.skip_external("a fresh database (its first user is the admin)") {
        return;
    }
    let admin = Api::new(&app).await;
    for _ in 0..4 {
        TestUser::registered(&app).await;
    }

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/admin/users?limit=2&cursor={c}"),
            None => "/api/admin/users?limit=2".to_string(),
        };
        let (status, page) = body(admin.get(&path).await).await;
        assert_eq!(status, 200, "{page}");
        for u in items(&page) {
            seen.push(text_at(&u, "/id"));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "no user repeated");
    assert_eq!(
        seen.last(),
        Some(&admin.user.id),
        "newest first, so the first user is last"
    );

    for bad in [
        "limit=0",
        "limit=101",
        "cursor=garbage",
        "cursor=eyJ4IjoxfQ.AAAA",
    ] {
        let resp = admin.get(&format!("/api/admin/users?{bad}")).await;
        expect_error(resp, 400, "VALIDATION_ERROR").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_can_be_read_and_updated() {
    let app = spawn_app().await;
    let (_admin, user) = admin_and_user(&app).await;

    let resp = user
        .patch(
            "/api/auth/me",
            &json!({"display_name": "  Ada Lovelace ", "email": "ada@example.com"}),
        )
        .await;
    let (status, b) = body(resp).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["user"]["display_name"], "Ada Lovelace");
    assert_eq!(b["user"]["email"], "ada@example.com");

    let resp = user.patch("/api/auth/me", &json!({"email": null})).await;
    let (_, b) = body(resp).await;
    assert_eq!(b["user"]["email"], Value::Null);
    assert_eq!(
        b["user"]["display_name"], "Ada Lovelace",
        "absent fields are kept"
    );

    let resp = user.patch("/api/auth/me", &json!({"role": "admin"})).await;
    expect_error(resp, 400, "VALIDATION_ERROR").await;
    let (_, b) = body(user.me().await).await;
    assert_eq!(b["user"]["role"], "user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_ends_every_other_session() {
    let app = spawn_app().await;
    let user = Api::new(&app).await;
    let mut other = user.clone();
    other.user.login(&app).await;

    let wrong = user
        .post(
            "/api/auth/password",
            &json!({"current_password": "not it at all", "new_password": "a brand new passphrase"}),
        )
        .await;
    expect_error(wrong, 403, "FORBIDDEN").await;
    let weak = user
        .post(
            "/api/auth/password",
            &json!({"current_password": user.user.password, "new_password": "passwordpassword"}),
        )
        .await;
    let b = expect_error(weak, 400, "WEAK_PASSWORD").await;
    assert_eq!(b["error"]["details"]["field"], "new_password");

    let ok = user.post("/api/auth/password", &json!({"current_password": user.user.password, "new_password": "a brand new passphrase"}))
        .await;
    assert_eq!(ok.status(), 204);

    assert_eq!(user.me().await.status(), 200, "this session goes on");
    expect_error(other.me().await, 401, "UNAUTHENTICATED").await;
    expect_error(
        refresh(&app, &other.user.refresh_token).await,
        401,
        "UNAUTHENTICATED",
    )
    .await;
    expect_error(
        user.user.login_request(&app, &user.user.password).await,
        401,
        "INVALID_CREDENTIALS",
    )
    .await;
    assert_eq!(
        user.user
            .login_request(&app, "a brand new passphrase")
            .await
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_logins_are_limited_until_the_window_passes() {
    let app = app_with(&[("login_max_failures", "3"), ("login_window_seconds", "2")]).await;
    if app.skip_external("settings of its own (login_max_failures, login_window_seconds)") {
        return;
    }
    let user = Api::new(&app).await;

    for _ in 0..3 {
        expect_error(
            user.user.login_request(&app, "wrong password here").await,
            401,
            "INVALID_CREDENTIALS",
        )
        .await;
    }
    let limited = user.user.login_request(&app, &user.user.password).await;
    let retry_after: u64 = limited
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((1..=2).contains(&retry_after), "retry-after {retry_after}");
    expect_error(limited, 429, "RATE_LIMITED").await;
    // Another username from the same IP is not affected by this username's limit.
    let other = Api::new(&app).await;
    let mut other = other.clone();
    other.user.login(&app).await;

    // The window is two seconds: after it, the right password works again.
    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    let mut again = user.clone();
    again.user.login(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_failed_logins_cannot_slip_past_the_limit() {
    let app = app_with(&[
        ("login_max_failures", "5"),
        ("login_window_seconds", "3600"),
    ])
    .await;
    if app.skip_external("settings of its own (login_max_failures, login_window_seconds)") {
        return;
    }
    let user = Api::new(&app).await;

    let attempts = (0..12).map(|_| user.user.login_request(&app, "wrong password here"));
    let results = futures::future::join_all(attempts).await;

    let statuses: Vec<u16> = results.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        7,
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_signing_secret_is_shared_by_all_instances() {
    // No jwt_secret: the first request generates one; every instance must then agree on it.
    let app = spawn_app_with(AppConfig {
        reuse: Some(spin_test_host::ReuseConfig::one_request_per_instance()),
        ..AppConfig::default()
    })
    .await;
    let users = futures::future::join_all((0..6).map(|_| TestUser::registered(&app))).await;

    for user in &users {
        assert_eq!(app.bearer(&user.access_token).me().await.status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_for_admins_and_the_metrics_token() {
    let app = app_with(&[("metrics_token", "scrape-me")]).await;
    if app.skip_external("settings of its own (metrics_token) and a fresh database") {
        return;
    }
    let (admin, user) = admin_and_user(&app).await;

    let by_admin = admin.get("/metrics").await;
    assert_eq!(by_admin.status(), 200);
    assert!(
        by_admin
            .text()
            .await
            .unwrap_or_default()
            .contains("ollama_chat_info")
    );
    let by_token = app.bearer("scrape-me").get("/metrics").await;
    assert_eq!(by_token.status(), 200);

    let by_user = user.get("/metrics").await;
    expect_error(by_user, 403, "FORBIDDEN").await;
    let wrong = app.bearer("scrape-me-not").get("/metrics").await;
    expect_error(wrong, 401, "UNAUTHENTICATED").await;
    let none = app.get("/metrics").go().await;
    expect_error(none, 401, "UNAUTHENTICATED").await;
}
