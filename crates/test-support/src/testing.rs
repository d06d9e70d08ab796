//! Helpers for black-box tests: [`spawn_app`] starts the real components in this host (temp
//! state, a fake Ollama); with `SPIN_BIN=/path/to/spin` it starts a real `spin up` per test
//! with the same options instead ([`SpinProcess`]); with `APP_URL` it points the same tests at
//! an app that is already running. Tests that need a fresh database, their own settings or the
//! fake Ollama ask [`TestApp::is_external`] and skip there, saying why ([`skip`]).
//!
//! `SPIN_TEST_HOST_SQLITE=libsql` runs the same tests with the app's database on libSQL, as a
//! scale-out deployment has it: each test gets a libSQL server of its own ([`HranaServer`])
//! and a runtime config with `type = "libsql"`, so every statement goes through Spin's libSQL
//! client and over HTTP.

use crate::fake_ollama::FakeOllama;
use crate::hrana::HranaServer;
use crate::spin_bin::{SpinProcess, spin_bin};
use anyhow::{Context, Result};
use spin_test_host::server::{ComponentOutput, ReuseConfig, RunningApp, UpOptions};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The workspace root (where spin.toml is).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("../.."))
}

/// Builds the components once per test process (`cargo build --target wasm32-wasip2
/// --release` for all of them, as `spin build` would). `SPIN_TEST_HOST_SKIP_BUILD=1` skips it.
pub fn ensure_built() -> Result<()> {
    static BUILT: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            if std::env::var_os("SPIN_TEST_HOST_SKIP_BUILD").is_some() {
                return Ok(());
            }
            spin_test_host::build::build_components(&workspace_dir().join("spin.toml"))
                .map_err(|e| format!("{e:#}"))
        })
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

/// How to start the app under test.
#[derive(Debug, Clone, Default)]
pub struct AppConfig {
    pub reuse: Option<ReuseConfig>,
    /// Extra `--variable`s.
    pub variables: Vec<(String, String)>,
    /// Point the app at this Ollama instead of starting a fake one.
    pub ollama_url: Option<String>,
    /// Use this manifest instead of the workspace's spin.toml.
    pub manifest: Option<PathBuf>,
    pub runtime_config: Option<PathBuf>,
    /// Use this state directory instead of a fresh temporary one.
    pub state_dir: Option<PathBuf>,
}

impl AppConfig {
    /// The defaults with these `--variable`s.
    pub fn with_vars(pairs: &[(&str, &str)]) -> Self {
        Self {
            variables: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Self::default()
        }
    }
}

/// An app under test, and the fake Ollama it talks to.
pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub ollama: Option<FakeOllama>,
    pub app: Option<RunningApp>,
    /// The real `spin up` serving the app (`SPIN_BIN`).
    pub spin: Option<SpinProcess>,
    pub state_dir: Option<PathBuf>,
    /// The runtime config it was started with, if any (a replica shares it).
    pub runtime_config: Option<PathBuf>,
    /// The `ollama_url` it was started with (a replica shares it).
    pub ollama_url: Option<String>,
    /// The libSQL server holding the app's database (`SPIN_TEST_HOST_SQLITE=libsql`).
    pub libsql: Option<HranaServer>,
    _temp: Option<tempfile::TempDir>,
}

/// Whether this run puts the app's database on libSQL (`SPIN_TEST_HOST_SQLITE=libsql`).
pub fn on_libsql() -> bool {
    std::env::var("SPIN_TEST_HOST_SQLITE").is_ok_and(|v| v == "libsql")
}

/// The Redis server this run keeps the app's key-value store on (`SPIN_TEST_HOST_KV=redis`,
/// at `SPIN_TEST_HOST_REDIS_URL`, default `redis://127.0.0.1:6379`), as a scale-out deployment
/// does.
pub fn redis_url() -> Option<String> {
    std::env::var("SPIN_TEST_HOST_KV")
        .is_ok_and(|v| v == "redis")
        .then(|| {
            std::env::var("SPIN_TEST_HOST_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
        })
}

/// A Redis database of its own for one app (`base` with the next database number, emptied):
/// tests run at once, and the app's keys (its cached signing secret, say) are global. The
/// server needs enough databases (`redis-server --databases 4096`, as .ci/run starts it).
async fn fresh_redis_database(base: &str) -> Result<String> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let url = format!("{}/{n}", base.trim_end_matches('/'));
    let client = redis::Client::open(url.as_str())?;
    let mut c = client.get_multiplexed_async_connection().await?;
    redis::cmd("FLUSHDB").query_async::<()>(&mut c).await?;
    Ok(url)
}

/// Starts the app with the defaults: Spin's instance reuse, a temp state dir, a fake Ollama.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppConfig::default()).await
}

pub async fn spawn_app_with(config: AppConfig) -> TestApp {
    match try_spawn_app_with(config).await {
        Ok(app) => app,
        Err(e) => panic!("could not start the app under test: {e:#}"),
    }
}

/// A test's variables with Ollama's URL, and the fake's model as the default unless the test
/// chose one (the fake has llama3.2:1b, not the manifest's default llama3.2, i.e. `:latest`).
fn with_ollama(
    mut variables: Vec<(String, String)>,
    ollama_url: &str,
    fake: bool,
) -> Vec<(String, String)> {
    if fake && !variables.iter().any(|(k, _)| k == "default_model") {
        variables.push(("default_model".to_string(), "llama3.2:1b".to_string()));
    }
    variables.push(("ollama_url".to_string(), ollama_url.to_string()));
    variables
}

/// The runtime config a test's app gets: the test's own, or under `SPIN_TEST_HOST_SQLITE=libsql`
/// and `SPIN_TEST_HOST_KV=redis` one that puts the database on a libSQL server started here
/// (returned, to keep it running) and the key-value store on a fresh Redis database.
async fn runtime_config_for_stores(
    given: Option<PathBuf>,
    state_dir: &Path,
    temp: &Path,
) -> Result<(Option<PathBuf>, Option<HranaServer>)> {
    if given.is_some() || !(on_libsql() || redis_url().is_some()) {
        return Ok((given, None));
    }
    std::fs::create_dir_all(state_dir)?;
    let mut text = String::new();
    let mut libsql = None;
    if on_libsql() {
        let db = state_dir.join("sqlite_db.db");
        let server = HranaServer::start(&db, "test-token").await?;
        text.push_str(&format!(
            "[sqlite_database.default]\ntype = \"libsql\"\nurl = \"{}\"\ntoken = \"{}\"\n",
            server.url(),
            server.token()
        ));
        libsql = Some(server);
    }
    if let Some(url) = redis_url() {
        let url = fresh_redis_database(&url).await?;
        text.push_str(&crate::redis_server::kv_runtime_config(&url));
    }
    let file = temp.join("runtime-config.toml");
    std::fs::write(&file, text)?;
    Ok((Some(file), libsql))
}

/// Like [`spawn_app_with`], for tests of an app that must refuse to start: why it did not.
pub async fn try_spawn_app_with(config: AppConfig) -> Result<TestApp> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    if let Ok(url) = std::env::var("APP_URL") {
        return Ok(TestApp {
            url: url.trim_end_matches('/').to_string(),
            client,
            ollama: None,
            app: None,
            spin: None,
            state_dir: None,
            runtime_config: None,
            ollama_url: None,
            libsql: None,
            _temp: None,
        });
    }
    ensure_built()?;
    let temp = tempfile::tempdir()?;
    let state_dir = config
        .state_dir
        .clone()
        .unwrap_or_else(|| temp.path().join("state"));
    let (ollama, ollama_url) = match config.ollama_url {
        Some(url) => (None, url),
        None => {
            let fake = FakeOllama::start().await?;
            let url = fake.url();
            (Some(fake), url)
        }
    };
    let mut options = UpOptions::new(
        config
            .manifest
            .unwrap_or_else(|| workspace_dir().join("spin.toml")),
    );
    options.listen = "127.0.0.1:0".parse()?;
    options.state_dir = Some(state_dir.clone());
    let (runtime_config_file, libsql) =
        runtime_config_for_stores(config.runtime_config, &state_dir, temp.path()).await?;
    options.runtime_config_file = runtime_config_file;
    options.working_dir = Some(temp.path().to_path_buf());
    options.env = Some(Default::default());
    options.output = ComponentOutput::Files;
    // SPIN_TEST_HOST_REUSE=fresh runs every test with a new instance per request, to prove
    // nothing depends on globals surviving between requests.
    options.reuse =
        config
            .reuse
            .unwrap_or_else(|| match std::env::var("SPIN_TEST_HOST_REUSE").as_deref() {
                Ok("fresh") => ReuseConfig::one_request_per_instance(),
                _ => ReuseConfig::default(),
            });
    options.variables = with_ollama(config.variables, &ollama_url, ollama.is_some());
    if let Some(bin) = spin_bin() {
        let spin = SpinProcess::start(&bin, &options).await?;
        return Ok(TestApp {
            url: spin.url().to_string(),
            client,
            ollama,
            app: None,
            spin: Some(spin),
            state_dir: Some(state_dir),
            runtime_config: options.runtime_config_file.clone(),
            ollama_url: Some(ollama_url),
            libsql,
            _temp: Some(temp),
        });
    }
    let runtime_config = options.runtime_config_file.clone();
    let app = spin_test_host::server::up(options)
        .await
        .context("starting the host")?;
    Ok(TestApp {
        url: app.url(),
        client,
        ollama,
        app: Some(app),
        spin: None,
        state_dir: Some(state_dir),
        runtime_config,
        ollama_url: Some(ollama_url),
        libsql,
        _temp: Some(temp),
    })
}

/// A second replica of `first`, as a scale-out deployment runs them: its own host (instances,
/// caches) with the same stores (the same database and key-value store: the same files, or
/// the same libSQL server and Redis database) and the same Ollama; `vars` are its variables
/// (give both the same). `None` against `APP_URL`.
pub async fn spawn_replica(first: &TestApp, vars: &[(&str, &str)]) -> Option<TestApp> {
    let state_dir = first.state_dir.clone()?;
    let ollama_url = first.ollama_url.clone();
    let mut vars = vars.to_vec();
    if first.ollama.is_some() && !vars.iter().any(|(k, _)| *k == "default_model") {
        vars.push(("default_model", "llama3.2:1b"));
    }
    let vars = vars.as_slice();
    let config = AppConfig {
        state_dir: Some(state_dir),
        runtime_config: first.runtime_config.clone(),
        ollama_url,
        ..AppConfig::with_vars(vars)
    };
    Some(spawn_app_with(config).await)
}

impl TestApp {
    /// True when the tests target an app started elsewhere (`APP_URL`): its database is not
    /// fresh, its settings are its own, and there is no fake Ollama to control.
    pub fn is_external(&self) -> bool {
        self.app.is_none() && self.spin.is_none()
    }

    /// True, after saying so on stderr, when this test cannot run against an app started
    /// elsewhere (`APP_URL`) because it `needs` what only a test's own app has: a fresh
    /// database, settings of its own, the fake Ollama's controls, the app's files.
    pub fn skip_external(&self, needs: &str) -> bool {
        let skip = self.is_external();
        if skip {
            let test = std::thread::current()
                .name()
                .unwrap_or("a test")
                .to_string();
            eprintln!("skipped {test} against APP_URL: it needs {needs}");
        }
        skip
    }

    /// The fake Ollama the app talks to; fails the test where there is none (`APP_URL`: skip
    /// such tests first with [`TestApp::skip_external`]).
    pub fn fake(&self) -> &FakeOllama {
        match &self.ollama {
            Some(o) => o,
            None => panic!("this test needs the fake Ollama"),
        }
    }

    /// The app's wall clock, which the test may set; `None` (after saying so) where the app
    /// is not in this process's test host (`SPIN_BIN`, `APP_URL`): only the test host has one.
    pub fn clock(&self) -> Option<&spin_test_host::clock::Clock> {
        let clock = self.app.as_ref().map(|a| &a.clock);
        if clock.is_none() {
            let test = std::thread::current()
                .name()
                .unwrap_or("a test")
                .to_string();
            eprintln!("skipped {test}: it sets the app's clock, which only the test host can");
        }
        clock
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.at(path))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.at(path))
    }

    /// Everything the components wrote to stdout and stderr (Spin's `.spin/logs`).
    pub fn component_logs(&self) -> String {
        let Some(dir) = &self.state_dir else {
            return String::new();
        };
        let mut out = String::new();
        if let Ok(entries) = std::fs::read_dir(dir.join("logs")) {
            let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            for p in paths {
                out.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
        out
    }

    /// The app's SQLite database file (for assertions on what was stored), also when it is
    /// served by libSQL.
    pub fn database_path(&self) -> Option<PathBuf> {
        if let Some(server) = &self.libsql {
            return Some(server.path().to_path_buf());
        }
        self.state_dir.as_ref().map(|d| d.join("sqlite_db.db"))
    }
}

/// A copy of the workspace manifest with `edit` applied to its text, written into `dir`, with
/// component sources made absolute so they still point at the built wasm.
pub fn manifest_variant(dir: &Path, edit: impl FnOnce(String) -> String) -> Result<PathBuf> {
    let original = std::fs::read_to_string(workspace_dir().join("spin.toml"))?;
    let target = workspace_dir().join("target");
    let absolute = original.replace(
        "source = \"target/",
        &format!("source = \"{}/", target.display()),
    );
    let path = dir.join("spin.toml");
    std::fs::write(&path, edit(absolute))?;
    Ok(path)
}

/// A user for tests: unique name, a strong password; tokens once registered or logged in.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub username: String,
    pub password: String,
    pub id: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl TestUser {
    pub fn generate() -> Self {
        let n = chat_core_like_id();
        Self {
            username: format!("user_{n}"),
            password: format!("correct horse battery {n}"),
            id: String::new(),
            access_token: String::new(),
            refresh_token: String::new(),
        }
    }

    /// `POST /api/auth/register` with this user's name and password.
    pub async fn register_request(&self, app: &TestApp) -> reqwest::Response {
        app.post("/api/auth/register")
            .json(&serde_json::json!({ "username": self.username, "password": self.password }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("register: {e}"))
    }

    /// Registers (expecting tokens) and returns the user with them.
    pub async fn registered(app: &TestApp) -> Self {
        let mut user = Self::generate();
        let resp = user.register_request(app).await;
        let body = expect(resp, 201).await;
        user.take_tokens(&body);
        user
    }

    /// `POST /api/auth/login`.
    pub async fn login_request(&self, app: &TestApp, password: &str) -> reqwest::Response {
        app.post("/api/auth/login")
            .json(&serde_json::json!({ "username": self.username, "password": password }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("login: {e}"))
    }

    /// Logs in (expecting success) and keeps the new tokens.
    pub async fn login(&mut self, app: &TestApp) {
        let password = self.password.clone();
        let resp = self.login_request(app, &password).await;
        let body = expect(resp, 200).await;
        self.take_tokens(&body);
    }

    /// Keeps the user id and tokens of a register, login or refresh answer.
    #[track_caller]
    pub fn take_tokens(&mut self, body: &serde_json::Value) {
        self.id = text_at(body, "/user/id");
        self.access_token = text_at(body, "/access_token");
        self.refresh_token = text_at(body, "/refresh_token");
    }
}

fn chat_core_like_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}{:x}", N.fetch_add(1, Ordering::Relaxed), nanos)
}

impl TestApp {
    /// A request with `Authorization: Bearer <token>`.
    fn authed(&self, method: reqwest::Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.at(path))
            .bearer_auth(token)
    }

    /// The API as the holder of `token` (an access token or an API key).
    pub fn bearer(&self, token: &str) -> Api<'_> {
        let user = TestUser {
            access_token: token.to_string(),
            ..TestUser::generate()
        };
        Api::of(self, user)
    }

    /// `POST path` with a JSON body, signed out.
    pub async fn post_signed_out(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.post(path).json(body).go().await
    }
}

/// A signed-in user of an app, with typed helpers for the routes tests use most. Every
/// helper that names a status fails the test on another, showing the body.
#[derive(Clone)]
pub struct Api<'a> {
    pub app: &'a TestApp,
    pub user: TestUser,
}

impl<'a> Api<'a> {
    /// A newly registered user.
    pub async fn new(app: &'a TestApp) -> Self {
        Self::of(app, TestUser::registered(app).await)
    }

    /// `user` (registered or logged in already).
    pub fn of(app: &'a TestApp, user: TestUser) -> Self {
        Self { app, user }
    }

    /// This user's access token.
    pub fn token(&self) -> &str {
        &self.user.access_token
    }

    /// A request as this user.
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.app.authed(method, path, &self.user.access_token)
    }

    /// `method path` without a body.
    pub async fn call(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.req(method, path).go().await
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.req(reqwest::Method::GET, path).go().await
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.req(reqwest::Method::POST, path).json(body).go().await
    }

    pub async fn patch(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.req(reqwest::Method::PATCH, path).json(body).go().await
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.req(reqwest::Method::DELETE, path).go().await
    }

    /// `GET /api/auth/me`.
    pub async fn me(&self) -> reqwest::Response {
        self.get("/api/auth/me").await
    }

    /// Creates a conversation (expecting `201`); its object.
    pub async fn create(&self, body: serde_json::Value) -> serde_json::Value {
        let made = expect(self.post("/api/conversations", &body).await, 201).await;
        at(&made, "/conversation").clone()
    }

    /// Creates a conversation (expecting `201`); its id.
    pub async fn conversation(&self, body: serde_json::Value) -> String {
        text_at(&self.create(body).await, "/id")
    }

    /// `GET /api/conversations/{id}` (expecting `200`): the conversation.
    pub async fn conversation_of(&self, id: &str) -> serde_json::Value {
        let got = expect(self.get(&format!("/api/conversations/{id}")).await, 200).await;
        at(&got, "/conversation").clone()
    }

    /// The conversation's messages, oldest first (up to 100).
    pub async fn messages(&self, id: &str) -> Vec<serde_json::Value> {
        let path = format!("/api/conversations/{id}/messages?limit=100");
        items(&expect(self.get(&path).await, 200).await)
    }

    /// `PATCH /api/conversations/{id}`.
    pub async fn update(&self, id: &str, body: serde_json::Value) -> reqwest::Response {
        self.patch(&format!("/api/conversations/{id}"), &body).await
    }

    /// `GET /api/conversations{query}` (expecting `200`).
    pub async fn list(&self, query: &str) -> serde_json::Value {
        expect(self.get(&format!("/api/conversations{query}")).await, 200).await
    }

    /// `POST /api/conversations/import`.
    pub async fn import(&self, doc: &serde_json::Value) -> reqwest::Response {
        self.post("/api/conversations/import", doc).await
    }

    /// Imports one conversation with these (role, content) messages (expecting `201`); its id.
    pub async fn seeded(&self, title: &str, messages: &[(&str, &str)]) -> String {
        let messages: Vec<serde_json::Value> = messages
            .iter()
            .map(|(r, c)| serde_json::json!({"role": r, "content": c}))
            .collect();
        let doc = serde_json::json!({"conversations": [{"title": title, "messages": messages}]});
        text_at(&expect(self.import(&doc).await, 201).await, "/ids/0")
    }

    /// Every page of a list at `path`, following `next_cursor`.
    pub async fn all_pages(&self, path: &str, limit: u32) -> Vec<serde_json::Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        let sep = if path.contains('?') { '&' } else { '?' };
        for _ in 0..1000 {
            let mut url = format!("{path}{sep}limit={limit}");
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let page = expect(self.get(&url).await, 200).await;
            all.extend(items(&page));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return all,
            }
        }
        panic!("pagination did not end");
    }

    /// `POST /api/chat/{id}/messages`.
    pub async fn send(&self, id: &str, body: serde_json::Value) -> reqwest::Response {
        self.post(&format!("/api/chat/{id}/messages"), &body).await
    }
}

/// The value at JSON pointer `pointer` (`/items/0/id`); fails the test, showing the whole
/// document, when there is none.
#[track_caller]
pub fn at<'v>(doc: &'v serde_json::Value, pointer: &str) -> &'v serde_json::Value {
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("nothing at {pointer} in {doc}"))
}

/// The string at `pointer`; fails the test when it is missing or not a string.
#[track_caller]
pub fn text_at(doc: &serde_json::Value, pointer: &str) -> String {
    match at(doc, pointer).as_str() {
        Some(s) => s.to_string(),
        None => panic!("{pointer} is not a string in {doc}"),
    }
}

/// A list answer's `items`; fails the test when there are none (an empty list is fine).
#[track_caller]
pub fn items(doc: &serde_json::Value) -> Vec<serde_json::Value> {
    match at(doc, "/items").as_array() {
        Some(a) => a.clone(),
        None => panic!("items is not an array in {doc}"),
    }
}

/// `request.go().await`: send, and fail the test with the reason if it could not be sent.
#[allow(async_fn_in_trait)]
pub trait SendExt {
    async fn go(self) -> reqwest::Response;
}

impl SendExt for reqwest::RequestBuilder {
    async fn go(self) -> reqwest::Response {
        match self.send().await {
            Ok(r) => r,
            Err(e) => panic!("request failed: {e}"),
        }
    }
}

/// Polls `probe` every 20 ms until it gives a value, for work the app finishes after it has
/// answered (a stored answer, a title, counted metrics); fails the test after 15 s.
pub async fn eventually<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A response header's value, if it is there and is text.
pub fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A response's status and JSON body (a non-JSON body comes back as a JSON string).
pub async fn body(resp: reqwest::Response) -> (reqwest::StatusCode, serde_json::Value) {
    let status = resp.status();
    let text = text(resp).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// A response's body as text; fails the test when it cannot be read.
pub async fn text(resp: reqwest::Response) -> String {
    match resp.text().await {
        Ok(t) => t,
        Err(e) => panic!("reading the body: {e}"),
    }
}

/// A response's body, which must be JSON.
pub async fn json(resp: reqwest::Response) -> serde_json::Value {
    let text = text(resp).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts the status; returns the JSON body.
pub async fn expect(resp: reqwest::Response, status: u16) -> serde_json::Value {
    let (s, b) = body(resp).await;
    assert_eq!(s.as_u16(), status, "{b}");
    b
}

/// Asserts the status and that the body's length is stated (`content-length`, not chunked);
/// returns the JSON body. A chunked answer's closing chunk leaves in a write of its own, and
/// Spin's listener keeps Nagle's algorithm on: it waits for the client's delayed ACK, ~40 ms
/// on every such answer on a kept-alive connection.
pub async fn expect_stated_length(resp: reqwest::Response, status: u16) -> serde_json::Value {
    let stated = header(&resp, "content-length");
    let encoding = header(&resp, "transfer-encoding");
    let s = resp.status();
    let text = text(resp).await;
    assert_eq!(s.as_u16(), status, "{text}");
    assert_eq!(encoding, None, "sent chunked: {text}");
    assert_eq!(
        stated,
        Some(text.len().to_string()),
        "length not stated: {text}"
    );
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
}

/// Asserts the status, a stated length and the contract's error envelope (JSON, the code, a
/// message, the request id of the `x-request-id` header); returns the body.
pub async fn expect_error(resp: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    let request_id = header(&resp, "x-request-id");
    let content_type = header(&resp, "content-type").unwrap_or_default();
    let b = expect_stated_length(resp, status).await;
    assert_eq!(b["error"]["code"], code, "{b}");
    assert!(
        content_type.starts_with("application/json"),
        "content-type {content_type}: {b}"
    );
    let message = b["error"]["message"].as_str();
    assert!(message.is_some_and(|m| !m.is_empty()), "no message: {b}");
    assert_eq!(b["request_id"].as_str(), request_id.as_deref(), "{b}");
    b
}

/// Asserts the status and OpenAI's error shape (`/v1`): JSON, `error.type` and `error.code`
/// as given, a message, `param` present (maybe `null`), and an `x-request-id`; returns the
/// body.
pub async fn expect_openai_error(
    resp: reqwest::Response,
    status: u16,
    kind: &str,
    code: Option<&str>,
) -> serde_json::Value {
    let request_id = header(&resp, "x-request-id");
    let content_type = header(&resp, "content-type").unwrap_or_default();
    let b = expect_stated_length(resp, status).await;
    let e = &b["error"];
    assert_eq!(e["type"], kind, "{b}");
    if let Some(code) = code {
        assert_eq!(e["code"], code, "{b}");
    }
    assert!(e.get("param").is_some(), "no param: {b}");
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{b}");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    assert!(request_id.is_some(), "no x-request-id");
    assert!(
        b.get("request_id").is_none(),
        "the envelope leaked into /v1: {b}"
    );
    b
}
