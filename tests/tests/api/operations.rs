//! Black-box tests of what an operator does to a running app (docs/DEPLOY.md): a backup of
//! the live database restores into a fresh app with every user, conversation and message.

use reqwest::Method;
use serde_json::json;
use spin_test_host::testing::{
    Api, AppConfig, expect, items, on_libsql, spawn_app, spawn_app_with, text_at,
};

#[tokio::test]
async fn a_backup_of_the_running_app_restores_into_a_fresh_one() {
    let app = spawn_app().await;
    if app.skip_external("the app's database file") {
        return;
    }
    if on_libsql() {
        eprintln!(
            "skipped on libSQL: its server takes backups with its own tools (docs/DEPLOY.md)"
        );
        return;
    }
    let Some(db) = app.database_path() else {
        return;
    };
    let user = Api::new(&app).await;
    let first = user
        .seeded("first", &[("user", "hi"), ("assistant", "hello")])
        .await;
    let second = user
        .seeded("second", &[("user", "more"), ("assistant", "sure")])
        .await;
    let mut before = user.all_pages("/api/conversations", 100).await;

    // The documented backup: `VACUUM INTO` on the live file, the app still serving.
    let restored_state = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = restored_state.path().join("state");
    std::fs::create_dir_all(&state).unwrap_or_else(|e| panic!("{e}"));
    let copy = state.join("sqlite_db.db");
    let conn = rusqlite::Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
    conn.execute("VACUUM INTO ?1", [copy.to_string_lossy()])
        .unwrap_or_else(|e| panic!("backup: {e}"));
    drop(conn);
    let (username, password) = (user.user.username.clone(), user.user.password.clone());
    let token = user.user.access_token.clone();
    drop(user);
    drop(app);

    // A fresh app (new key-value store) on the restored file.
    let restored = spawn_app_with(AppConfig {
        state_dir: Some(state),
        ..AppConfig::default()
    })
    .await;
    let login = json!({"username": username, "password": password});
    let signed_in = expect(
        restored.post_json("/api/auth/login", None, login).await,
        200,
    )
    .await;
    let fresh = text_at(&signed_in, "/access_token");
    let mut after = expect(
        restored
            .call(Method::GET, "/api/conversations?limit=100", &fresh)
            .await,
        200,
    )
    .await["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let by_id = |v: &serde_json::Value| v["id"].as_str().unwrap_or_default().to_string();
    before.sort_by_key(by_id);
    after.sort_by_key(by_id);
    assert_eq!(after, before);
    for (id, first_words) in [(&first, "hi"), (&second, "more")] {
        let path = format!("/api/conversations/{id}/messages");
        let messages = items(&expect(restored.call(Method::GET, &path, &fresh).await, 200).await);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0]["content"], first_words);
    }
    // The generated signing secret is in the database too: tokens from before still work.
    expect(restored.me(&token).await, 200).await;
}
