//! Black-box tests of what an operator does to a running app (docs/DEPLOY.md): a backup of
//! the live database restores into a fresh app with every user, conversation and message.

use serde_json::json;
use test_support::testing::{
    Api, AppConfig, TestUser, expect, expect_error, items, on_libsql, spawn_app, spawn_app_with,
    text_at,
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
        restored.post_signed_out("/api/auth/login", &login).await,
        200,
    )
    .await;
    let fresh = text_at(&signed_in, "/access_token");
    let mut after = expect(
        restored
            .bearer(&fresh)
            .get("/api/conversations?limit=100")
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
        let messages = items(&expect(restored.bearer(&fresh).get(&path).await, 200).await);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0]["content"], first_words);
    }
    // The generated signing secret is in the database too: tokens from before still work.
    expect(restored.bearer(&token).me().await, 200).await;
}

/// The files of deploy/spinkube, and spin.toml.
struct Deployment {
    spinapp: String,
    secrets: String,
    manifest: toml::Table,
}

fn deployment() -> Deployment {
    let root = test_support::testing::workspace_dir();
    let read = |p: &str| {
        std::fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("reading {p}: {e}"))
    };
    Deployment {
        spinapp: read("deploy/spinkube/spinapp.yaml"),
        secrets: read("deploy/spinkube/secrets.yaml"),
        manifest: read("spin.toml")
            .parse()
            .unwrap_or_else(|e| panic!("spin.toml: {e}")),
    }
}

/// The SpinApp's variables: (name, the lines that bind it).
fn bound_variables(spinapp: &str) -> Vec<(String, String)> {
    let block = spinapp
        .split("\n  variables:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no variables in the SpinApp"));
    let mut out: Vec<(String, String)> = Vec::new();
    for line in block
        .lines()
        .take_while(|l| l.starts_with("    ") || l.is_empty())
    {
        if let Some(name) = line.strip_prefix("    - name: ") {
            out.push((name.trim().to_string(), String::new()));
        } else if let Some((_, binding)) = out.last_mut() {
            binding.push_str(line.trim());
            binding.push('\n');
        }
    }
    out
}

#[test]
fn the_spinkube_manifests_bind_only_declared_variables_secrets_from_secrets_and_every_store() {
    let d = deployment();
    let declared = d.manifest["variables"]
        .as_table()
        .unwrap_or_else(|| panic!("spin.toml has no [variables]"));

    // Every variable the SpinApp sets is one spin.toml declares; secret ones come from Secrets
    // that secrets.yaml defines, with the key it has.
    let bound = bound_variables(&d.spinapp);
    assert!(bound.len() >= 5, "{bound:?}");
    for (name, binding) in &bound {
        let Some(var) = declared.get(name) else {
            panic!("the SpinApp sets {name}, which spin.toml does not declare");
        };
        let secret = var.get("secret").and_then(toml::Value::as_bool) == Some(true);
        if secret {
            assert!(
                binding.contains("secretKeyRef:"),
                "{name} must come from a Secret"
            );
            let key = format!("  {name}: ");
            assert!(d.secrets.contains(&key), "secrets.yaml has no {name}");
        }
    }
    for needed in ["jwt_secret", "ollama_url"] {
        assert!(
            bound.iter().any(|(n, _)| n == needed),
            "{needed} is not set"
        );
    }

    // The runtime config comes from the Secret secrets.yaml defines, and parses as Spin reads
    // it, with every store a component of spin.toml uses, on a backend replicas can share.
    let secret_name = d
        .spinapp
        .lines()
        .find_map(|l| l.trim().strip_prefix("loadFromSecret: "))
        .unwrap_or_else(|| panic!("no loadFromSecret"));
    assert!(d.secrets.contains(&format!("name: {secret_name}\n")));
    let toml_text: String = d
        .secrets
        .split("runtime-config.toml: |\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no runtime-config.toml in secrets.yaml"))
        .lines()
        .take_while(|l| l.starts_with("    ") || l.is_empty())
        .map(|l| format!("{}\n", l.trim_start()))
        .collect();
    let dir = std::path::Path::new("/");
    let config = spin_test_host::runtime_config::RuntimeConfig::parse(&toml_text, dir, dir)
        .unwrap_or_else(|e| panic!("the runtime config does not parse: {e:#}"));
    let components = d.manifest["component"]
        .as_table()
        .unwrap_or_else(|| panic!("no components"));
    for (name, component) in components {
        let labels = |key: &str| -> Vec<String> {
            component
                .get(key)
                .and_then(toml::Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        for label in labels("key_value_stores") {
            assert!(
                matches!(
                    config.key_value_stores.get(&label),
                    Some(spin_test_host::runtime_config::KvConfig::Redis(_))
                ),
                "{name}'s key-value store {label} is not on Redis"
            );
        }
        for label in labels("sqlite_databases") {
            assert!(
                matches!(
                    config.sqlite_databases.get(&label),
                    Some(spin_test_host::runtime_config::DatabaseConfig::LibSql { .. })
                ),
                "{name}'s database {label} is not on libSQL"
            );
        }
    }
}

#[tokio::test]
async fn an_in_memory_database_is_refused_and_the_log_says_why() {
    // Arrange: Spin's in-memory default database (`spin up --state-dir ""`), where each
    // connection is an empty database of its own; the logs kept in a folder to read.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let logs = dir.path().join("logs");
    let runtime_config = dir.path().join("runtime-config.toml");
    std::fs::write(
        &runtime_config,
        format!("log_dir = {:?}\n", logs.display().to_string()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let app = spawn_app_with(AppConfig {
        state_dir: Some("".into()),
        runtime_config: Some(runtime_config),
        ..AppConfig::default()
    })
    .await;
    if app.skip_external("an app started with an in-memory database") {
        return;
    }

    // Act
    let ready = app
        .get("/health/ready")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let register = TestUser::generate().register_request(&app).await;

    // Assert: refused, not half-working (registration used to fail on a missing table after
    // readiness said the database was fine).
    let ready = expect(ready, 503).await;
    assert_eq!(ready["checks"]["sqlite"]["status"], "error", "{ready}");
    expect_error(register, 500, "INTERNAL").await;
    let mut log = String::new();
    for entry in std::fs::read_dir(&logs)
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
    {
        log.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    assert!(
        log.contains("each connection to the database is a database of its own"),
        "{log}"
    );
}
