//! The HTTP server: routes each request to a component as Spin's HTTP trigger does, and runs
//! WASI 0.3 components through wasmtime-wasi-http's `ProxyHandler` with Spin 4's instance reuse
//! (up to N requests per instance, up to M at once, an idle instance kept for a while).

use crate::engine::{self, Ctx};
use crate::listen::{Connections, accept_loop};
use crate::manifest::Manifest;
use crate::outbound::{AllowedHost, OutboundClient, OutboundHooks};
use crate::routes::{RouteMatch, Router};
use crate::runtime_config::{DatabaseConfig, KvConfig, RuntimeConfig};
use crate::spin_apis::{ComponentGrants, SpinState};
use crate::stores::{Database, Location, Stores};
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper::body::Incoming;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use wasmtime::component::GuestTaskId;
use wasmtime::{Store, StoreContextMut};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi_http::WasiHttpCtx;
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, ProxyHandler, ProxyPre, ShouldAccept, ViewFn, WorkerExpiration,
    WorkerState, WorkerStatus,
};
use wasmtime_wasi_http::p3::WasiHttpView;
use wasmtime_wasi_http::p3::bindings::ServicePre;

/// A value or an inclusive `a..b` range, as Spin's instance-reuse flags take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range<T> {
    pub min: T,
    pub max: T,
}

impl<T: Copy> Range<T> {
    pub fn exactly(v: T) -> Self {
        Self { min: v, max: v }
    }
}

impl Range<usize> {
    fn pick(&self) -> usize {
        if self.max <= self.min {
            return self.min;
        }
        self.min + (cheap_random() as usize) % (self.max - self.min + 1)
    }
}

impl Range<Duration> {
    fn pick(&self) -> Duration {
        if self.max <= self.min {
            return self.min;
        }
        let span = (self.max - self.min).as_micros().max(1) as u64;
        self.min + Duration::from_micros(cheap_random() % span)
    }
}

fn cheap_random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

/// Spin 4's defaults for WASI 0.3 components.
#[derive(Debug, Clone, PartialEq)]
pub struct ReuseConfig {
    pub max_instance_reuse_count: Range<usize>,
    pub max_instance_concurrent_reuse_count: Range<usize>,
    pub idle_instance_timeout: Range<Duration>,
    pub request_timeout: Option<Duration>,
}

impl Default for ReuseConfig {
    fn default() -> Self {
        Self {
            max_instance_reuse_count: Range::exactly(128),
            max_instance_concurrent_reuse_count: Range::exactly(16),
            idle_instance_timeout: Range::exactly(Duration::from_secs(1)),
            request_timeout: None,
        }
    }
}

impl ReuseConfig {
    /// A fresh instance for every request (no global survives between requests).
    pub fn one_request_per_instance() -> Self {
        Self {
            max_instance_reuse_count: Range::exactly(1),
            max_instance_concurrent_reuse_count: Range::exactly(1),
            ..Self::default()
        }
    }
}

/// Where component stdout/stderr go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentOutput {
    /// The host's own stdout/stderr (the dev server).
    Terminal,
    /// `<log dir>/<component>_stdout.txt` and `_stderr.txt`, as Spin writes them.
    Files,
}

/// How to run an app: the `spin up` flags this host mirrors.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub manifest: PathBuf,
    pub listen: SocketAddr,
    pub runtime_config_file: Option<PathBuf>,
    /// `None`: `.spin/` beside the manifest; `Some("")`: in memory.
    pub state_dir: Option<PathBuf>,
    /// `--variable name=value`, highest precedence.
    pub variables: Vec<(String, String)>,
    /// The environment `SPIN_VARIABLE_*` are read from (`None`: this process's).
    pub env: Option<HashMap<String, String>>,
    /// The folder relative SQLite paths resolve from (Spin: the working directory).
    pub working_dir: Option<PathBuf>,
    pub reuse: ReuseConfig,
    pub output: ComponentOutput,
}

impl UpOptions {
    pub fn new(manifest: impl Into<PathBuf>) -> Self {
        Self {
            manifest: manifest.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            runtime_config_file: None,
            state_dir: None,
            variables: Vec::new(),
            env: None,
            working_dir: None,
            reuse: ReuseConfig::default(),
            output: ComponentOutput::Terminal,
        }
    }
}

/// A running app. Dropping it stops the server.
pub struct RunningApp {
    pub addr: SocketAddr,
    pub state_dir: Option<PathBuf>,
    /// Every SQL statement the components ran, with counts and time (for benchmarks).
    pub stores: Arc<Stores>,
    /// The wall clock the components see (tests move it: `crate::clock`).
    pub clock: crate::clock::Clock,
    task: tokio::task::JoinHandle<()>,
}

impl RunningApp {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves until the process ends.
    pub async fn wait(mut self) -> Result<()> {
        (&mut self.task).await.context("server task")
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct App {
    router: Router,
    handlers: HashMap<String, ProxyHandler<ComponentHandler>>,
    addr: SocketAddr,
}

/// Starts the app described by `options` and serves it on `options.listen`.
pub async fn up(options: UpOptions) -> Result<RunningApp> {
    let manifest = Manifest::load(&options.manifest)?;
    let working_dir = match &options.working_dir {
        Some(d) => d.clone(),
        None => std::env::current_dir()?,
    };
    let runtime = match &options.runtime_config_file {
        Some(f) => RuntimeConfig::load(f, &working_dir)?,
        None => RuntimeConfig::default(),
    };
    let state_dir = match (&options.state_dir, &runtime.state_dir) {
        (Some(d), _) if d.as_os_str().is_empty() => None,
        (Some(d), _) => Some(working_dir.join(d)),
        (None, Some(d)) => Some(d.clone()),
        (None, None) => Some(manifest.dir.join(".spin")),
    };
    let log_dir = runtime
        .log_dir
        .clone()
        .or_else(|| state_dir.as_ref().map(|d| d.join("logs")));
    let shared = Shared {
        resolver: Arc::new(crate::variables::Resolver::new(
            &manifest,
            &options.variables,
            options.env.as_ref(),
            &runtime,
        )?),
        stores: Arc::new(build_stores(&runtime, state_dir.as_deref())?),
        linker: engine::linker(engine::engine()?)?,
        client: OutboundClient::new(runtime.connection_pooling),
        clock: crate::clock::Clock::default(),
        log_dir,
    };
    let mut handlers = HashMap::new();
    for (id, spec) in &manifest.components {
        let handler = shared.handler(&options, id, spec)?;
        handlers.insert(id.clone(), ProxyHandler::new(handler));
    }
    let router = Router::build(manifest.routes.iter().filter_map(|r| {
        r.route
            .as_deref()
            .map(|route| (route, r.component.as_str()))
    }))?;
    serve(options.listen, router, handlers, state_dir, shared).await
}

/// What every component of the app shares in the host.
struct Shared {
    resolver: Arc<crate::variables::Resolver>,
    stores: Arc<Stores>,
    linker: wasmtime::component::Linker<Ctx>,
    client: OutboundClient,
    clock: crate::clock::Clock,
    log_dir: Option<PathBuf>,
}

impl Shared {
    /// Component `id`, loaded, checked against what the app configures (variables, stores,
    /// outbound hosts) and ready to serve.
    fn handler(
        &self,
        options: &UpOptions,
        id: &str,
        spec: &crate::manifest::ComponentSpec,
    ) -> Result<ComponentHandler> {
        let component = engine::load_component(engine::engine()?, &spec.source)
            .with_context(|| format!("component {id:?} (did the wasm build run?)"))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| anyhow::anyhow!("component {id:?}: {e}"))?;
        let pre = ServicePre::new(pre).map_err(|e| anyhow::anyhow!("component {id:?}: {e}"))?;
        // Resolved at each guest `get`, as Spin does; checked once here.
        for template in spec.variables.values() {
            self.resolver.expand(template)?;
        }
        for name in &spec.key_value_stores {
            if self.stores.kv_store(name).is_none() {
                bail!("component {id:?} uses key-value store {name:?}, which is not configured");
            }
        }
        for name in &spec.sqlite_databases {
            if self.stores.sqlite_database(name).is_none() {
                bail!("component {id:?} uses SQLite database {name:?}, which is not configured");
            }
        }
        let allowed = crate::outbound::allowed_hosts(&spec.allowed_outbound_hosts, |entry| {
            self.resolver.expand(entry)
        })?;
        let grants = Arc::new(ComponentGrants {
            id: id.to_string(),
            sqlite_databases: spec.sqlite_databases.clone(),
            key_value_stores: spec.key_value_stores.clone(),
            variables: spec.variables.clone(),
            resolver: self.resolver.clone(),
        });
        let (stdout, stderr) = match (options.output, &self.log_dir) {
            (ComponentOutput::Files, Some(dir)) => {
                std::fs::create_dir_all(dir)?;
                (
                    Some(dir.join(format!("{id}_stdout.txt"))),
                    Some(dir.join(format!("{id}_stderr.txt"))),
                )
            }
            _ => (None, None),
        };
        Ok(ComponentHandler {
            pre: ProxyPre::P3(pre),
            clock: self.clock.clone(),
            grants,
            stores: self.stores.clone(),
            allowed: Arc::new(allowed),
            client: self.client.clone(),
            environment: spec.environment.clone(),
            reuse: options.reuse.clone(),
            stdout,
            stderr,
            output: options.output,
        })
    }
}

/// Listens on `listen` and serves every request through `router` to its component's handler.
async fn serve(
    listen: SocketAddr,
    router: Router,
    handlers: HashMap<String, ProxyHandler<ComponentHandler>>,
    state_dir: Option<PathBuf>,
    shared: Shared,
) -> Result<RunningApp> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    let app = Arc::new(App {
        router,
        handlers,
        addr,
    });
    // Like Spin 4's listener, Nagle's algorithm stays on (no TCP_NODELAY): the app must
    // stream well with it (see docs/STREAMING.md).
    let how = Connections {
        nodelay: false,
        http2: true,
    };
    let task = tokio::spawn(accept_loop(listener, how, move |req, client| {
        let app = app.clone();
        async move { handle(&app, req, client).await }
    }));
    Ok(RunningApp {
        addr,
        state_dir,
        stores: shared.stores,
        clock: shared.clock,
        task,
    })
}

/// The app's stores. As Spin, a file's directory is created at start-up, and the app does not
/// start when it cannot be (Spin's `InProcDatabaseLocation::from_path` and key-value-spin).
const DB_DIR: &str = "sqlite database directory";
const KV_DIR: &str = "key value store's parent directory:";

fn build_stores(runtime: &RuntimeConfig, state_dir: Option<&Path>) -> Result<Stores> {
    let mut stores = Stores::default();
    // Spin makes a database's directory whatever is there (so a file in the way fails), and a
    // key-value store's only when nothing is there.
    let location = |p: &Option<PathBuf>, what: &str| -> Result<Location> {
        let Some(p) = p else {
            return Ok(Location::InMemory);
        };
        if let Some(parent) = p.parent().filter(|d| what == DB_DIR || !d.exists()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("failed to create {what} '{}'", parent.display()))?;
        }
        Ok(Location::Path(p.clone()))
    };
    for (label, database) in &runtime.sqlite_databases {
        stores.add_sqlite(
            label,
            match database {
                DatabaseConfig::Spin(path) => Database::Local(location(path, DB_DIR)?),
                DatabaseConfig::LibSql { url, token } => Database::LibSql {
                    url: url.clone(),
                    token: token.clone(),
                },
            },
        );
    }
    for (label, config) in &runtime.key_value_stores {
        match config {
            KvConfig::Spin(path) => stores.add_kv(label, location(path, KV_DIR)?),
            KvConfig::Redis(url) => stores.add_kv_redis(label, url),
        }
    }
    if !runtime.sqlite_databases.contains_key("default") {
        stores.add_sqlite(
            "default",
            Database::Local(location(
                &state_dir.map(|d| d.join("sqlite_db.db")),
                DB_DIR,
            )?),
        );
    }
    if !runtime.key_value_stores.contains_key("default") {
        stores.add_kv(
            "default",
            location(&state_dir.map(|d| d.join("sqlite_key_value.db")), KV_DIR)?,
        );
    }
    Ok(stores)
}

type HostBody = UnsyncBoxBody<Bytes, std::io::Error>;

fn empty(status: StatusCode) -> Response<HostBody> {
    let mut r = Response::new(
        Full::new(Bytes::new())
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r
}

fn full(status: StatusCode, body: impl Into<Bytes>) -> Response<HostBody> {
    let mut r = Response::new(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r
}

async fn handle(app: &App, mut req: Request<Incoming>, client: SocketAddr) -> Response<HostBody> {
    req.headers_mut().remove(http::header::CONNECTION);
    let path = req.uri().path().to_string();
    if let Some(well_known) = path.strip_prefix("/.well-known/spin/") {
        return match well_known {
            "health" => full(StatusCode::OK, "OK"),
            _ => empty(StatusCode::NOT_FOUND),
        };
    }
    let Some(route) = app.router.route(&path) else {
        return empty(StatusCode::NOT_FOUND);
    };
    let Some(handler) = app.handlers.get(&route.component) else {
        return empty(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let req = match prepare_request(req, &route, app.addr, client) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("spin-test-host: bad request for {path}: {e}");
            return empty(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    crate::trace::event(|| format!("request {path} -> {}", route.component));
    let result = handler.handle((), req).await;
    crate::trace::event(|| {
        format!(
            "response head {path}: {:?}",
            result.as_ref().map(|r| r.status())
        )
    });
    match result {
        Ok(resp) => resp.map(|b| {
            let b = b.map_err(|e| std::io::Error::other(e.to_string()));
            if crate::trace::on() {
                b.map_frame(move |f| {
                    if let Some(d) = f.data_ref() {
                        crate::trace::event(|| format!("body {path}: {} bytes", d.len()));
                    }
                    f
                })
                .boxed_unsync()
            } else {
                b.boxed_unsync()
            }
        }),
        Err(e) => {
            eprintln!(
                "spin-test-host: component {:?} failed: {e:?}",
                route.component
            );
            empty(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// Gives the request an absolute URI and the `spin-*` headers Spin adds (trigger-http
/// `headers.rs`); a header value that is not UTF-8 fails the request, as in Spin.
fn prepare_request(
    req: Request<Incoming>,
    route: &RouteMatch,
    local: SocketAddr,
    client: SocketAddr,
) -> Result<wasmtime_wasi_http::handler::Request> {
    let (mut parts, body) = req.into_parts();
    let host = match parts.headers.get(http::header::HOST) {
        Some(h) => h.to_str()?.to_string(),
        None => local.to_string(),
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    parts.uri = Uri::builder()
        .scheme("http")
        .authority(host.as_str())
        .path_and_query(path_and_query.as_str())
        .build()?;
    for value in parts.headers.values() {
        value.to_str()?;
    }
    for (name, value) in spin_headers(route, &host, &path_and_query, client) {
        parts.headers.insert(
            HeaderName::from_bytes(name.as_bytes())?,
            HeaderValue::from_str(&value)?,
        );
    }
    let body = body
        .map_err(|e| {
            wasmtime_wasi_http::handler::ErrorCode::from(
                wasmtime_wasi_http::p3::bindings::http::types::ErrorCode::InternalError(Some(
                    e.to_string(),
                )),
            )
        })
        .boxed_unsync();
    Ok(Request::from_parts(parts, body))
}

/// The `spin-*` headers Spin adds for a request to `host` + `path_and_query` matched by `route`.
pub fn spin_headers(
    route: &RouteMatch,
    host: &str,
    path_and_query: &str,
    client: SocketAddr,
) -> Vec<(String, String)> {
    let mut out = vec![
        ("spin-path-info".to_string(), route.path_info.clone()),
        (
            "spin-full-url".to_string(),
            format!("http://{host}{path_and_query}"),
        ),
        ("spin-matched-route".to_string(), route.raw_route.clone()),
        ("spin-base-path".to_string(), "/".to_string()),
        (
            "spin-raw-component-route".to_string(),
            route.raw_route.clone(),
        ),
        (
            "spin-component-route".to_string(),
            route.raw_route_or_prefix().to_string(),
        ),
        ("spin-client-addr".to_string(), client.to_string()),
    ];
    for (name, value) in &route.named {
        out.push((
            // Spin builds SPIN_PATH_MATCH_<NAME> and turns `_` into `-`.
            format!(
                "spin-path-match-{}",
                name.to_ascii_lowercase().replace('_', "-")
            ),
            value.clone(),
        ));
    }
    out
}

/// Creates instances of one component for the `ProxyHandler`.
struct ComponentHandler {
    pre: ProxyPre<Ctx>,
    clock: crate::clock::Clock,
    grants: Arc<ComponentGrants>,
    stores: Arc<Stores>,
    allowed: Arc<Vec<AllowedHost>>,
    client: OutboundClient,
    environment: BTreeMap<String, String>,
    reuse: ReuseConfig,
    stdout: Option<PathBuf>,
    stderr: Option<PathBuf>,
    output: ComponentOutput,
}

fn append(path: &Path) -> Result<std::fs::File> {
    Ok(std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?)
}

impl HandlerState for ComponentHandler {
    type StoreData = Ctx;
    type WorkerExpiration = Expiration;
    type WorkerState = Worker;

    async fn instantiate(&self) -> wasmtime::Result<Instance<Ctx, Expiration, Worker>> {
        let mut wasi = WasiCtxBuilder::new();
        wasi.wall_clock(self.clock.wall_clock());
        for (k, v) in &self.environment {
            wasi.env(k, v);
        }
        match (&self.stdout, &self.stderr) {
            (Some(out), Some(err)) => {
                let out = append(out).map_err(|e| wasmtime::format_err!("{e}"))?;
                let err = append(err).map_err(|e| wasmtime::format_err!("{e}"))?;
                wasi.stdout(wasmtime_wasi::cli::OutputFile::new(out));
                wasi.stderr(wasmtime_wasi::cli::OutputFile::new(err));
            }
            _ if self.output == ComponentOutput::Terminal => {
                wasi.inherit_stdout().inherit_stderr();
            }
            _ => {}
        }
        let ctx = Ctx {
            table: wasmtime::component::ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            hooks: OutboundHooks {
                component: self.grants.id.clone(),
                allowed: self.allowed.clone(),
                client: self.client.clone(),
            },
            spin: SpinState::new(self.grants.clone(), self.stores.clone()),
            guest_time: engine::GuestTime::default(),
        };
        let mut store = Store::new(self.pre_engine(), ctx);
        store.set_epoch_deadline(engine::EPOCH_DEADLINE);
        engine::GuestTime::hook(&mut store);
        crate::trace::event(|| format!("instantiate {}", self.grants.id));
        let proxy = self.pre.instantiate_async(&mut store).await?;
        crate::trace::event(|| format!("instantiated {}", self.grants.id));
        let request_timeout = self.reuse.request_timeout.unwrap_or(Duration::MAX);
        Ok(Instance {
            store,
            proxy,
            view: ViewFn::P3(|ctx: &mut Ctx| ctx.http()),
            expiration: Expiration {
                idle_timeout: self.reuse.idle_instance_timeout.pick(),
                request_timeout,
                sleep: Box::pin(tokio::time::sleep(Duration::from_secs(3600))),
            },
            state: Worker {
                request_timeout,
                max_reuse: self.reuse.max_instance_reuse_count.pick().max(1),
                max_concurrent: self.reuse.max_instance_concurrent_reuse_count.pick().max(1),
            },
        })
    }
}

impl ComponentHandler {
    fn pre_engine(&self) -> &wasmtime::Engine {
        match &self.pre {
            ProxyPre::P3(pre) => pre.engine(),
            #[allow(unreachable_patterns)]
            _ => unreachable!("only WASI 0.3 components are served"),
        }
    }
}

/// Ends an instance once it has been idle (or busy) too long, as Spin's `HttpWorkerExpiration`.
pub struct Expiration {
    idle_timeout: Duration,
    request_timeout: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl WorkerExpiration for Expiration {
    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        status: WorkerStatus,
        start: Instant,
    ) -> Poll<()> {
        let timeout = match status {
            WorkerStatus::Idle => self.idle_timeout,
            WorkerStatus::Requests | WorkerStatus::PostReturn => self.request_timeout,
        };
        match start.checked_add(timeout) {
            Some(deadline) => {
                let deadline = tokio::time::Instant::from_std(deadline);
                if self.sleep.deadline() != deadline {
                    self.sleep.as_mut().reset(deadline);
                }
                self.sleep.as_mut().poll(cx)
            }
            None => Poll::Pending,
        }
    }
}

pub struct Worker {
    request_timeout: Duration,
    max_reuse: usize,
    max_concurrent: usize,
}

impl WorkerState for Worker {
    type StoreData = Ctx;
    type RequestId = ();

    fn should_accept_request(&self, concurrent: usize, total: usize) -> ShouldAccept {
        if total >= self.max_reuse {
            ShouldAccept::Never
        } else if concurrent >= self.max_concurrent {
            ShouldAccept::No
        } else {
            ShouldAccept::Yes
        }
    }

    fn on_request_start(
        &self,
        _: StoreContextMut<'_, Ctx>,
        _: (),
        _: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync + 'static>> {
        crate::trace::event(|| "guest task starts".into());
        let timeout = self.request_timeout;
        Box::pin(async move {
            if timeout == Duration::MAX {
                std::future::pending::<()>().await
            } else {
                tokio::time::sleep(timeout).await
            }
        })
    }

    fn drop(&self, store: Store<Ctx>, result: Result<(), wasmtime::Error>) {
        crate::trace::event(|| {
            let data = store.data();
            format!(
                "instance ends {} (guest time {:?})",
                data.spin.component(),
                data.guest_time.elapsed
            )
        });
        // A worker dropped at shutdown reports "worker panicked"; a real panic has already
        // printed its own message, so only other errors are worth a line.
        if let Err(e) = result
            && e.to_string() != "worker panicked"
        {
            eprintln!("spin-test-host: instance ended with an error: {e:?}");
        }
        drop(store);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(route: &str, path: &str, query: &str) -> HashMap<String, String> {
        let router = Router::build([(route, "c")]).unwrap_or_else(|e| panic!("{e}"));
        let m = router.route(path).unwrap_or_else(|| panic!("no match"));
        let client: SocketAddr = "127.0.0.1:53596".parse().unwrap_or_else(|e| panic!("{e}"));
        spin_headers(&m, "127.0.0.1:3000", &format!("{path}{query}"), client)
            .into_iter()
            .collect()
    }

    #[test]
    fn headers_match_what_spin_sends_for_a_catch_all_route() {
        // The example observed on Spin 4 (shared/SPIN-NOTES.md).
        let h = headers("/...", "/some/path", "?q=1");
        let get = |k: &str| h.get(k).map(String::as_str);
        assert_eq!(get("spin-path-info"), Some("/some/path"));
        assert_eq!(
            get("spin-full-url"),
            Some("http://127.0.0.1:3000/some/path?q=1")
        );
        assert_eq!(get("spin-matched-route"), Some("/..."));
        assert_eq!(get("spin-base-path"), Some("/"));
        assert_eq!(get("spin-raw-component-route"), Some("/..."));
        assert_eq!(get("spin-component-route"), Some(""));
        assert_eq!(get("spin-client-addr"), Some("127.0.0.1:53596"));
    }

    #[test]
    fn named_segments_become_path_match_headers() {
        let h = headers(
            "/api/chat/:conversation_id/messages",
            "/api/chat/c1/messages",
            "",
        );
        assert_eq!(
            h.get("spin-path-match-conversation-id").map(String::as_str),
            Some("c1")
        );
        assert_eq!(h.get("spin-path-info").map(String::as_str), Some(""));
        assert_eq!(
            h.get("spin-component-route").map(String::as_str),
            Some("/api/chat/:conversation_id/messages")
        );
    }
}
