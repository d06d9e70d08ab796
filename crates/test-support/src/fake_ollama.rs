//! A fake Ollama for tests and benchmarks: Ollama's HTTP API with its exact wire shapes
//! (NDJSON streaming, field names and order, nanosecond durations, `done_reason`, token
//! counts), a configurable answer length and pace, and fault modes (refused connection,
//! unknown model, 500, an `{"error":...}` line or garbage mid-stream, a slow first byte, a
//! stall).
//!
//! ```ignore
//! let ollama = FakeOllama::start().await?;
//! // point the app at ollama.url(), then:
//! ollama.set_fault(FaultMode::ErrorMidStream { after: 3 });
//! assert!(ollama.chat_streams()[0].finished);
//! ```
//!
//! Answers are deterministic: content token `i` is `"tok{i} "`, thinking token `i` (for models
//! with `thinking: true`) is `"think{i} "`, so tests can check order and completeness.

use crate::fake_wire;
use anyhow::Result;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use serde::Serialize;
use serde_json::Value;
use spin_test_host::listen::{Connections, accept_loop};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Thinking chunks sent before the content by models with `thinking: true`.
const THINKING_CHUNKS: usize = 3;
const MODIFIED_AT: &str = "2025-10-01T12:00:00.000000000Z";
const SERVER_ERROR: &str = "llama runner process has terminated: exit status 2";
const MID_STREAM_ERROR: &str = "an error was encountered while running the model: unexpected EOF";
const GARBAGE_LINE: &str = "<html>oops";
const MISSING_PULL: &str = "pull model manifest: file does not exist";
const LOAD_DURATION_NS: u64 = 1_234_567;
const PROMPT_EVAL_DURATION_NS: u64 = 2_345_678;

/// A model the fake has "installed".
#[derive(Clone, Debug)]
pub struct FakeModel {
    pub name: String,
    pub size: u64,
    pub family: String,
    pub parameter_size: String,
    pub quantization_level: String,
    /// Streams `thinking` chunks first and advertises the `thinking` capability.
    pub thinking: bool,
}

impl FakeModel {
    pub fn new(
        name: &str,
        size: u64,
        family: &str,
        parameter_size: &str,
        quantization_level: &str,
        thinking: bool,
    ) -> Self {
        Self {
            name: name.into(),
            size,
            family: family.into(),
            parameter_size: parameter_size.into(),
            quantization_level: quantization_level.into(),
            thinking,
        }
    }
}

#[derive(Clone, Debug)]
pub struct FakeOllamaConfig {
    /// Content chunks per `/api/chat` answer.
    pub tokens: usize,
    /// Delay between chunks (and between `/api/pull` progress lines).
    pub token_delay: Duration,
    /// Delay before `/api/chat` sends its headers and first chunk.
    pub first_byte_delay: Duration,
    pub models: Vec<FakeModel>,
}

impl Default for FakeOllamaConfig {
    fn default() -> Self {
        Self {
            tokens: 50,
            token_delay: Duration::ZERO,
            first_byte_delay: Duration::ZERO,
            models: vec![
                FakeModel::new("llama3.2:1b", 1_321_098_329, "llama", "1.2B", "Q8_0", false),
                FakeModel::new(
                    "qwen3:0.6b",
                    522_653_767,
                    "qwen3",
                    "751.63M",
                    "Q4_K_M",
                    true,
                ),
            ],
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum FaultMode {
    Normal,
    /// `/api/chat` and `/api/show` answer 404 for every model.
    ModelNotFound,
    /// Every `/api/*` route answers 500.
    ServerError,
    /// `/api/chat` answers 500; every other route works.
    ChatServerError,
    /// `after` content chunks, then an `{"error": ...}` line, then the stream ends.
    ErrorMidStream {
        after: usize,
    },
    /// `after` content chunks, then a line that is not JSON, then the stream ends.
    GarbageMidStream {
        after: usize,
    },
    /// `/api/chat` waits this long before sending its headers.
    SlowFirstByte(Duration),
    /// `after` content chunks, then a pause of `stall`, then the rest as normal.
    StallAfter {
        after: usize,
        stall: Duration,
    },
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The body, if it was JSON.
    pub body: Option<Value>,
    /// The `Expect` header, if any.
    pub expect: Option<String>,
    /// Whether the body came chunked (no `content-length`).
    pub chunked: bool,
}

/// One `/api/chat` call (pushed when the call arrives, updated as chunks go out).
#[derive(Clone, Debug)]
pub struct ChatStreamRecord {
    /// When the call arrived (its body read).
    pub arrived_at: Instant,
    pub model: String,
    pub stream: bool,
    /// When each line was handed to the connection.
    pub sent_at: Vec<Instant>,
    /// The client closed the connection before the stream ended.
    pub client_gone: bool,
    /// The final `done: true` line was sent.
    pub finished: bool,
}

struct State {
    config: FakeOllamaConfig,
    fault: FaultMode,
    requests: Vec<RecordedRequest>,
    chats: Vec<ChatStreamRecord>,
    /// While `true`, `/api/chat` answers wait (recorded, before their headers) until it is
    /// `false` again: [`FakeOllama::hold_chats`].
    held: tokio::sync::watch::Sender<bool>,
}

type Shared = Arc<Mutex<State>>;

fn lock(s: &Shared) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running fake Ollama on 127.0.0.1. Dropping it shuts the server down (the listener and
/// every open connection).
pub struct FakeOllama {
    addr: SocketAddr,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeOllama {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeOllama {
    /// Starts with [`FakeOllamaConfig::default`].
    pub async fn start() -> Result<FakeOllama> {
        Self::start_with(FakeOllamaConfig::default()).await
    }

    pub async fn start_with(config: FakeOllamaConfig) -> Result<FakeOllama> {
        Self::start_on("127.0.0.1:0".parse()?, config).await
    }

    /// Listens on `addr` (a fixed port, for an app started elsewhere to be pointed at).
    pub async fn start_on(
        addr: std::net::SocketAddr,
        config: FakeOllamaConfig,
    ) -> Result<FakeOllama> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state: Shared = Arc::new(Mutex::new(State {
            config,
            fault: FaultMode::Normal,
            requests: Vec::new(),
            chats: Vec::new(),
            held: tokio::sync::watch::Sender::new(false),
        }));
        let served = state.clone();
        let how = Connections {
            nodelay: true,
            http2: false,
        };
        let task = tokio::spawn(accept_loop(listener, how, move |req, _| {
            handle(served.clone(), req)
        }));
        Ok(FakeOllama { addr, state, task })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn set_fault(&self, mode: FaultMode) {
        lock(&self.state).fault = mode;
    }

    pub fn fault(&self) -> FaultMode {
        lock(&self.state).fault.clone()
    }

    pub fn set_tokens(&self, n: usize) {
        lock(&self.state).config.tokens = n;
    }

    pub fn set_token_delay(&self, d: Duration) {
        lock(&self.state).config.token_delay = d;
    }

    pub fn set_first_byte_delay(&self, d: Duration) {
        lock(&self.state).config.first_byte_delay = d;
    }

    /// Holds every `/api/chat` answer, from now until [`FakeOllama::release_chats`], after
    /// recording its arrival and before its headers: answers that must all be running at
    /// once are, however slowly they arrive.
    pub fn hold_chats(&self) {
        lock(&self.state).held.send_replace(true);
    }

    /// Lets the held answers (and every later one) go.
    pub fn release_chats(&self) {
        lock(&self.state).held.send_replace(false);
    }

    /// The models currently "installed" (changed by `/api/pull` and `/api/delete`).
    pub fn models(&self) -> Vec<FakeModel> {
        lock(&self.state).config.models.clone()
    }

    pub fn set_models(&self, models: Vec<FakeModel>) {
        lock(&self.state).config.models = models;
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// One record per `/api/chat` call, in order.
    pub fn chat_streams(&self) -> Vec<ChatStreamRecord> {
        lock(&self.state).chats.clone()
    }

    /// Forgets the recorded requests and chat streams.
    pub fn clear_records(&self) {
        let mut s = lock(&self.state);
        s.requests.clear();
        s.chats.clear();
    }

    /// A URL on 127.0.0.1 where nothing listens: connections are refused.
    pub async fn refused_url() -> String {
        match TcpListener::bind("127.0.0.1:0")
            .await
            .and_then(|l| l.local_addr())
        {
            Ok(addr) => format!("http://{addr}"),
            Err(_) => "http://127.0.0.1:9".into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Wire shapes, as structs so the fields come out in Ollama's order.

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

#[derive(Serialize)]
struct VersionResponse {
    version: &'static str,
}

#[derive(Serialize)]
struct Details<'a> {
    parent_model: &'a str,
    format: &'a str,
    family: &'a str,
    families: [&'a str; 1],
    parameter_size: &'a str,
    quantization_level: &'a str,
}

#[derive(Serialize)]
struct ListModel<'a> {
    name: &'a str,
    model: &'a str,
    modified_at: &'a str,
    size: u64,
    digest: String,
    details: Details<'a>,
}

#[derive(Serialize)]
struct ListResponse<'a> {
    models: Vec<ListModel<'a>>,
}

#[derive(Serialize)]
struct ModelInfo<'a> {
    #[serde(rename = "general.architecture")]
    architecture: &'a str,
    #[serde(rename = "general.parameter_count")]
    parameter_count: u64,
}

#[derive(Serialize)]
struct ShowResponse<'a> {
    modelfile: String,
    parameters: &'a str,
    template: &'a str,
    details: Details<'a>,
    model_info: ModelInfo<'a>,
    capabilities: Vec<&'a str>,
    modified_at: &'a str,
}

#[derive(Serialize)]
struct ChatMessage {
    role: &'static str,
    content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<Vec<Value>>,
}

#[derive(Serialize, Clone, Copy, Debug)]
struct Metrics {
    total_duration: u64,
    load_duration: u64,
    prompt_eval_count: u64,
    prompt_eval_duration: u64,
    eval_count: u64,
    eval_duration: u64,
}

#[derive(Serialize)]
struct ChatResponse<'a> {
    model: &'a str,
    created_at: String,
    message: ChatMessage,
    #[serde(skip_serializing_if = "Option::is_none")]
    done_reason: Option<&'static str>,
    done: bool,
    #[serde(flatten)]
    metrics: Option<Metrics>,
}

#[derive(Serialize)]
struct Progress {
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    completed: Option<u64>,
}

impl Progress {
    fn status(s: &str) -> Self {
        Self {
            status: s.into(),
            digest: None,
            total: None,
            completed: None,
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

fn details(m: &FakeModel) -> Details<'_> {
    Details {
        parent_model: "",
        format: "gguf",
        family: &m.family,
        families: [&m.family],
        parameter_size: &m.parameter_size,
        quantization_level: &m.quantization_level,
    }
}

// ---------------------------------------------------------------------------------------------
// Responses.

type Body = BoxBody<Bytes, Infallible>;
type Chunk = std::result::Result<Frame<Bytes>, Infallible>;

fn full(status: StatusCode, content_type: Option<&str>, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = status;
    if let Some(v) = content_type.and_then(|c| c.parse().ok()) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    full(
        status,
        Some("application/json; charset=utf-8"),
        to_json(value),
    )
}

fn error_response(status: StatusCode, message: &str) -> Response<Body> {
    json_response(status, &ErrorBody { error: message })
}

fn not_found_page() -> Response<Body> {
    full(
        StatusCode::NOT_FOUND,
        Some("text/plain"),
        "404 page not found",
    )
}

/// An NDJSON response whose lines come from `rx` (one frame, so one HTTP chunk, per line).
fn ndjson_response(rx: mpsc::Receiver<Chunk>) -> Response<Body> {
    let mut rx = rx;
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut r = Response::new(StreamBody::new(stream).boxed());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-ndjson"),
    );
    r
}

fn line(text: impl Into<String>) -> Chunk {
    let mut text = text.into();
    text.push('\n');
    Ok(Frame::data(Bytes::from(text)))
}

/// Waits for room in the body channel, runs `before`, then queues the line; `false` (and
/// `before` not run) if the client went away.
async fn send_line(tx: &mpsc::Sender<Chunk>, text: String, before: impl FnOnce()) -> bool {
    match tx.reserve().await {
        Ok(permit) => {
            before();
            permit.send(line(text));
            true
        }
        Err(_) => false,
    }
}

/// Sleeps `d`, or returns `false` early if the client went away (the body was dropped).
async fn pause(tx: &mpsc::Sender<Chunk>, d: Duration) -> bool {
    if d.is_zero() {
        return !tx.is_closed();
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = tx.closed() => false,
    }
}

/// Now, as RFC 3339 in UTC with nanoseconds, like Ollama's `created_at`.
fn now_rfc3339() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (y, m, d) = civil_from_days(i64::try_from(secs / 86_400).unwrap_or(0));
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_nanos()
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn digest(name: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn model_name(body: &Option<Value>) -> String {
    body.as_ref()
        .and_then(|b| b.get("model").or_else(|| b.get("name")))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn stream_flag(body: &Option<Value>) -> bool {
    body.as_ref()
        .and_then(|b| b.get("stream"))
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

/// `llama3.2` means `llama3.2:latest`, as in Ollama.
fn same_model(installed: &str, asked: &str) -> bool {
    installed == asked || (!asked.contains(':') && installed == format!("{asked}:latest"))
}

fn find_model(state: &Shared, name: &str) -> Option<FakeModel> {
    lock(state)
        .config
        .models
        .iter()
        .find(|m| same_model(&m.name, name))
        .cloned()
}

fn times(d: Duration, n: usize) -> Duration {
    d.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX))
}

// ---------------------------------------------------------------------------------------------
// Routes.

async fn handle(state: Shared, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let expect = req
        .headers()
        .get(header::EXPECT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let chunked = req
        .headers()
        .get(header::TRANSFER_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"));
    let bytes = match req.into_body().collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let body: Option<Value> = serde_json::from_slice(&bytes).ok();
    let is_chat = method == Method::POST && path == "/api/chat";
    let (fault, chat_index) = {
        let mut s = lock(&state);
        s.requests.push(RecordedRequest {
            method: method.to_string(),
            path: path.clone(),
            body: body.clone(),
            expect,
            chunked,
        });
        let index = is_chat.then(|| {
            s.chats.push(ChatStreamRecord {
                arrived_at: Instant::now(),
                model: model_name(&body),
                stream: stream_flag(&body),
                sent_at: Vec::new(),
                client_gone: false,
                finished: false,
            });
            s.chats.len() - 1
        });
        (s.fault.clone(), index)
    };
    let chat_fails = fault == FaultMode::ChatServerError && is_chat;
    if chat_fails || (fault == FaultMode::ServerError && path.starts_with("/api/")) {
        return error_response(StatusCode::INTERNAL_SERVER_ERROR, SERVER_ERROR);
    }
    let needs_body = method == Method::POST || method == Method::DELETE;
    if needs_body && path.starts_with("/api/") && body.is_none() {
        let known = [
            "/api/chat",
            "/api/show",
            "/api/pull",
            "/api/delete",
            "/api/embed",
        ];
        if known.contains(&path.as_str()) {
            let message = if bytes.is_empty() {
                "missing request body"
            } else {
                "invalid request body"
            };
            return error_response(StatusCode::BAD_REQUEST, message);
        }
    }
    if let Some(index) = chat_index {
        return chat(state, fault, index, body.unwrap_or(Value::Null)).await;
    }
    match (method, path.as_str()) {
        (Method::GET | Method::HEAD, "/") => full(
            StatusCode::OK,
            Some("text/plain; charset=utf-8"),
            "Ollama is running",
        ),
        (Method::GET, "/api/version") => {
            json_response(StatusCode::OK, &VersionResponse { version: "0.12.6" })
        }
        (Method::GET, "/api/tags") => tags(&state),
        (Method::POST, "/api/show") => show(&state, &fault, &model_name(&body)),
        (Method::POST, "/api/pull") => pull(state, model_name(&body), stream_flag(&body)).await,
        (Method::DELETE, "/api/delete") => delete(&state, &model_name(&body)),
        (Method::POST, "/api/embed") => embed(&state, &fault, &body.unwrap_or_default()),
        _ => not_found_page(),
    }
}

fn tags(state: &Shared) -> Response<Body> {
    let s = lock(state);
    let models = s
        .config
        .models
        .iter()
        .map(|m| ListModel {
            name: &m.name,
            model: &m.name,
            modified_at: MODIFIED_AT,
            size: m.size,
            digest: digest(&m.name),
            details: details(m),
        })
        .collect();
    json_response(StatusCode::OK, &ListResponse { models })
}

fn show(state: &Shared, fault: &FaultMode, name: &str) -> Response<Body> {
    if name.is_empty() {
        return error_response(StatusCode::BAD_REQUEST, "model is required");
    }
    if *fault == FaultMode::ModelNotFound {
        return error_response(
            StatusCode::NOT_FOUND,
            &format!("model \"{name}\" not found, try pulling it first"),
        );
    }
    let Some(m) = find_model(state, name) else {
        return error_response(StatusCode::NOT_FOUND, &format!("model '{name}' not found"));
    };
    let mut capabilities = vec!["completion"];
    if m.thinking {
        capabilities.push("thinking");
    }
    json_response(
        StatusCode::OK,
        &ShowResponse {
            modelfile: format!(
                "# Modelfile generated by \"ollama show\"\n\
                 # To build a new Modelfile based on this, replace FROM with:\n\
                 # FROM {}\n\nFROM {}\n",
                m.name, m.name
            ),
            parameters: "stop \"<|eot_id|>\"",
            template: "{{ .Prompt }}",
            details: details(&m),
            model_info: ModelInfo {
                architecture: &m.family,
                parameter_count: 1_235_814_432,
            },
            capabilities,
            modified_at: MODIFIED_AT,
        },
    )
}

fn embed(state: &Shared, fault: &FaultMode, body: &Value) -> Response<Body> {
    let name = model_name(&Some(body.clone()));
    if name.is_empty() {
        return error_response(StatusCode::BAD_REQUEST, "model is required");
    }
    if *fault == FaultMode::ModelNotFound || find_model(state, &name).is_none() {
        return error_response(
            StatusCode::NOT_FOUND,
            &format!("model \"{name}\" not found, try pulling it first"),
        );
    }
    match fake_wire::embeddings(body) {
        Ok(answer) => json_response(StatusCode::OK, &answer),
        Err(message) => error_response(StatusCode::BAD_REQUEST, &message),
    }
}

fn delete(state: &Shared, name: &str) -> Response<Body> {
    if name.is_empty() {
        return error_response(StatusCode::BAD_REQUEST, "model is required");
    }
    let mut s = lock(state);
    let before = s.config.models.len();
    s.config.models.retain(|m| !same_model(&m.name, name));
    if s.config.models.len() == before {
        error_response(StatusCode::NOT_FOUND, &format!("model '{name}' not found"))
    } else {
        full(StatusCode::OK, None, Bytes::new())
    }
}

fn metrics(prompt_chars: usize, tokens: usize, delay: Duration) -> Metrics {
    let per_token =
        u64::try_from(delay.max(Duration::from_millis(1)).as_nanos()).unwrap_or(u64::MAX);
    let tokens = u64::try_from(tokens).unwrap_or(u64::MAX);
    let eval = per_token.saturating_mul(tokens);
    Metrics {
        total_duration: eval
            .saturating_add(LOAD_DURATION_NS)
            .saturating_add(PROMPT_EVAL_DURATION_NS)
            .saturating_add(456_789),
        load_duration: LOAD_DURATION_NS,
        prompt_eval_count: u64::try_from((prompt_chars / 4).max(1)).unwrap_or(1),
        prompt_eval_duration: PROMPT_EVAL_DURATION_NS,
        eval_count: tokens,
        eval_duration: eval,
    }
}

/// How a mid-stream fault ends an answer.
#[derive(Clone, Copy, PartialEq)]
enum Cut {
    Error,
    Garbage,
}

impl Cut {
    fn line(self) -> String {
        match self {
            Cut::Error => to_json(&ErrorBody {
                error: MID_STREAM_ERROR,
            }),
            Cut::Garbage => GARBAGE_LINE.to_string(),
        }
    }
}

/// What one `/api/chat` answer consists of.
struct ChatPlan {
    model: String,
    thoughts: usize,
    tokens: usize,
    delay: Duration,
    fault: FaultMode,
    metrics: Metrics,
    /// `format` asked for JSON: the content chunks make one JSON object.
    json: bool,
    /// The model calls a tool instead of answering (its one content chunk carries the call).
    tool_call: Option<Value>,
}

impl ChatPlan {
    /// Line `n` of a normal stream: thinking chunks, content chunks, then the final chunk.
    fn line(&self, n: usize) -> (String, bool) {
        let (content, thinking) = if n < self.thoughts {
            (String::new(), Some(format!("think{n} ")))
        } else if n < self.thoughts + self.tokens {
            (self.content(n - self.thoughts), None)
        } else {
            return (self.final_line(String::new(), None), true);
        };
        let chunk = ChatResponse {
            model: &self.model,
            created_at: now_rfc3339(),
            message: ChatMessage {
                role: "assistant",
                content,
                thinking,
                tool_calls: self.tool_call.clone().map(|c| vec![c]),
            },
            done_reason: None,
            done: false,
            metrics: None,
        };
        (to_json(&chunk), false)
    }

    /// Content chunk `i`: a word, part of a JSON answer, or nothing beside a tool call.
    fn content(&self, i: usize) -> String {
        if self.tool_call.is_some() {
            return String::new();
        }
        fake_wire::content(i, self.tokens, self.json)
    }

    fn final_line(&self, content: String, thinking: Option<String>) -> String {
        self.final_line_with(content, thinking, None)
    }

    fn final_line_with(
        &self,
        content: String,
        thinking: Option<String>,
        tool_calls: Option<Vec<Value>>,
    ) -> String {
        to_json(&ChatResponse {
            model: &self.model,
            created_at: now_rfc3339(),
            message: ChatMessage {
                role: "assistant",
                content,
                thinking,
                tool_calls,
            },
            done_reason: Some("stop"),
            done: true,
            metrics: Some(self.metrics),
        })
    }

    /// The content chunk count after which a mid-stream fault cuts in (`tokens` = instead of
    /// the final chunk).
    fn cut(&self) -> Option<(usize, Cut)> {
        match self.fault {
            FaultMode::ErrorMidStream { after } => Some((after.min(self.tokens), Cut::Error)),
            FaultMode::GarbageMidStream { after } => Some((after.min(self.tokens), Cut::Garbage)),
            _ => None,
        }
    }

    fn stall(&self) -> Option<(usize, Duration)> {
        match self.fault {
            FaultMode::StallAfter { after, stall } if after <= self.tokens => Some((after, stall)),
            _ => None,
        }
    }
}

fn update(state: &Shared, index: usize, f: impl FnOnce(&mut ChatStreamRecord)) {
    if let Some(rec) = lock(state).chats.get_mut(index) {
        f(rec);
    }
}

async fn chat(state: Shared, fault: FaultMode, index: usize, body: Value) -> Response<Body> {
    let name = body["model"].as_str().unwrap_or_default().to_string();
    if name.is_empty() {
        return error_response(StatusCode::BAD_REQUEST, "model is required");
    }
    let not_found = || {
        error_response(
            StatusCode::NOT_FOUND,
            &format!("model \"{name}\" not found, try pulling it first"),
        )
    };
    if fault == FaultMode::ModelNotFound {
        return not_found();
    }
    let Some(model) = find_model(&state, &name) else {
        return not_found();
    };
    // `think`: absent = the model's default, false = off, true or "low"/"medium"/"high" = on.
    let think = match &body["think"] {
        Value::Bool(b) => Some(*b),
        Value::String(_) => Some(true),
        _ => None,
    };
    if think == Some(true) && !model.thinking {
        return error_response(
            StatusCode::BAD_REQUEST,
            &format!("\"{name}\" does not support thinking"),
        );
    }
    if let Some(message) = fake_wire::refusal(&body) {
        return error_response(StatusCode::BAD_REQUEST, &message);
    }
    if let Some(message) = fake_wire::option_refusal(&body) {
        return error_response(StatusCode::INTERNAL_SERVER_ERROR, &message);
    }
    let tool_call = fake_wire::tool_call(&body);
    let stream = body["stream"].as_bool().unwrap_or(true);
    let prompt_chars: usize = body["messages"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter_map(|m| m["content"].as_str())
                .map(|c| c.chars().count())
                .sum()
        })
        .unwrap_or(0);
    let (tokens, delay, first_byte) = {
        let s = lock(&state);
        (
            s.config.tokens,
            s.config.token_delay,
            s.config.first_byte_delay,
        )
    };
    let first_byte = match fault {
        FaultMode::SlowFirstByte(d) => first_byte + d,
        _ => first_byte,
    };
    if !first_byte.is_zero() {
        tokio::time::sleep(first_byte).await;
    }
    let mut held = lock(&state).held.subscribe();
    let _ = held.wait_for(|held| !held).await;
    let tokens = if tool_call.is_some() { 1 } else { tokens };
    let plan = ChatPlan {
        model: name,
        thoughts: if model.thinking && think != Some(false) {
            THINKING_CHUNKS
        } else {
            0
        },
        tokens,
        delay,
        fault,
        metrics: metrics(prompt_chars, tokens, delay),
        json: fake_wire::wants_json(&body),
        tool_call,
    };
    if stream {
        let (tx, rx) = mpsc::channel::<Chunk>(1);
        tokio::spawn(produce_chat(state, index, plan, tx));
        ndjson_response(rx)
    } else {
        whole_chat(state, index, plan).await
    }
}

/// Streams a chat answer line by line, recording each line and whether the client left.
async fn produce_chat(state: Shared, index: usize, plan: ChatPlan, tx: mpsc::Sender<Chunk>) {
    let gone = || update(&state, index, |r| r.client_gone = true);
    let lines = plan.thoughts + plan.tokens + 1;
    for n in 0..lines {
        // How many content chunks have gone out before this line.
        let content_sent = n.checked_sub(plan.thoughts);
        if let (Some(sent), Some((after, stall))) = (content_sent, plan.stall())
            && sent == after
            && !pause(&tx, stall).await
        {
            gone();
            return;
        }
        let cut = plan.cut().filter(|(after, _)| content_sent == Some(*after));
        let (text, is_final) = match cut {
            Some((_, bad)) => (bad.line(), false),
            None => plan.line(n),
        };
        if n > 0 && !pause(&tx, plan.delay).await {
            gone();
            return;
        }
        // Record first, so whoever sees the line also sees it recorded.
        let recorded = send_line(&tx, text, || {
            update(&state, index, |r| {
                r.sent_at.push(Instant::now());
                r.finished |= is_final;
            })
        });
        if !recorded.await {
            gone();
            return;
        }
        if cut.is_some() {
            return;
        }
    }
}

/// `"stream": false`: waits as long as the stream would take, then answers one object.
async fn whole_chat(state: Shared, index: usize, plan: ChatPlan) -> Response<Body> {
    let cut = plan.cut();
    let content_chunks = cut.map_or(plan.tokens, |(after, _)| after);
    let mut wait = times(plan.delay, plan.thoughts + content_chunks);
    if let Some((_, stall)) = plan.stall() {
        wait += stall;
    }
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    let response = match cut {
        Some((_, Cut::Garbage)) => full(
            StatusCode::OK,
            Some("application/json; charset=utf-8"),
            GARBAGE_LINE,
        ),
        Some(_) => error_response(StatusCode::INTERNAL_SERVER_ERROR, MID_STREAM_ERROR),
        None => {
            let content: String = (0..plan.tokens).map(|i| plan.content(i)).collect();
            let thinking = (plan.thoughts > 0)
                .then(|| (0..plan.thoughts).map(|i| format!("think{i} ")).collect());
            let calls = plan.tool_call.clone().map(|c| vec![c]);
            full(
                StatusCode::OK,
                Some("application/json; charset=utf-8"),
                plan.final_line_with(content, thinking, calls),
            )
        }
    };
    update(&state, index, |r| {
        r.sent_at.push(Instant::now());
        r.finished = cut.is_none();
    });
    response
}

async fn pull(state: Shared, name: String, stream: bool) -> Response<Body> {
    if name.is_empty() {
        return error_response(StatusCode::BAD_REQUEST, "model is required");
    }
    let delay = lock(&state).config.token_delay;
    let missing = name.contains("missing");
    let installed = if name.contains(':') {
        name.clone()
    } else {
        format!("{name}:latest")
    };
    let install = move |state: &Shared| {
        let mut s = lock(state);
        if !s.config.models.iter().any(|m| m.name == installed) {
            s.config.models.push(FakeModel::new(
                &installed, 1_000_000, "llama", "1B", "Q4_0", false,
            ));
        }
    };
    let mut lines = Vec::new();
    if missing {
        lines.push(to_json(&ErrorBody {
            error: MISSING_PULL,
        }));
    } else {
        let d = digest(&name);
        lines.push(to_json(&Progress::status("pulling manifest")));
        for completed in [0u64, 250_000, 500_000, 750_000, 1_000_000] {
            lines.push(to_json(&Progress {
                status: format!("pulling {}", &d[..12]),
                digest: Some(format!("sha256:{d}")),
                total: Some(1_000_000),
                completed: Some(completed),
            }));
        }
        for status in ["verifying sha256 digest", "writing manifest", "success"] {
            lines.push(to_json(&Progress::status(status)));
        }
    }
    if !stream {
        tokio::time::sleep(times(delay, lines.len().saturating_sub(1))).await;
        if missing {
            return error_response(StatusCode::INTERNAL_SERVER_ERROR, MISSING_PULL);
        }
        install(&state);
        return json_response(StatusCode::OK, &Progress::status("success"));
    }
    let (tx, rx) = mpsc::channel::<Chunk>(1);
    tokio::spawn(async move {
        let last = lines.len().saturating_sub(1);
        for (i, text) in lines.into_iter().enumerate() {
            if i > 0 && !pause(&tx, delay).await {
                return;
            }
            // Installed before "success" is visible, as Ollama writes the manifest first.
            let sent = send_line(&tx, text, || {
                if i == last && !missing {
                    install(&state);
                }
            });
            if !sent.await {
                return;
            }
        }
    });
    ndjson_response(rx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::{Context, bail, ensure};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    fn client() -> reqwest::Client {
        reqwest::Client::new()
    }

    async fn post(url: String, body: Value) -> Result<reqwest::Response> {
        Ok(client().post(url).json(&body).send().await?)
    }

    /// The body's lines, each parsed as JSON (or kept as a string when it is not JSON).
    async fn lines(resp: reqwest::Response) -> Result<Vec<Value>> {
        let text = resp.text().await?;
        ensure!(text.is_empty() || text.ends_with('\n'), "no final newline");
        Ok(text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| Value::String(l.to_string())))
            .collect())
    }

    fn content_type(resp: &reqwest::Response) -> String {
        resp.headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    fn chat_body(model: &str) -> Value {
        let messages = serde_json::json!([{"role": "user", "content": "hello there"}]);
        serde_json::json!({"model": model, "messages": messages})
    }

    fn is_rfc3339(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() == 30
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'.'
            && b[29] == b'Z'
            && s.starts_with("20")
    }

    async fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
        for _ in 0..300 {
            if cond() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cond()
    }

    #[tokio::test]
    async fn root_version_tags_and_unknown_routes() -> Result<()> {
        let fake = FakeOllama::start().await?;
        let url = fake.url();
        ensure!(url.starts_with("http://127.0.0.1:") && !url.ends_with('/'));
        ensure!(fake.addr().port() != 0);

        let root = client().get(&url).send().await?;
        ensure!(root.status() == 200);
        ensure!(root.text().await? == "Ollama is running");

        let version: Value = client()
            .get(format!("{url}/api/version"))
            .send()
            .await?
            .json()
            .await?;
        ensure!(version == serde_json::json!({"version": "0.12.6"}));

        let resp = client().get(format!("{url}/api/tags")).send().await?;
        ensure!(content_type(&resp).starts_with("application/json"));
        let text = resp.text().await?;
        ensure!(
            text.starts_with(
                r#"{"models":[{"name":"llama3.2:1b","model":"llama3.2:1b","modified_at":"#
            ),
            "field order: {text}"
        );
        let tags: Value = serde_json::from_str(&text)?;
        let models = tags["models"].as_array().context("models")?;
        ensure!(models.len() == 2);
        let m = &models[0];
        ensure!(m["size"] == 1_321_098_329u64);
        ensure!(is_rfc3339(m["modified_at"].as_str().unwrap_or_default()));
        let digest = m["digest"].as_str().unwrap_or_default();
        ensure!(digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()));
        ensure!(
            m["details"]
                == serde_json::json!({
                    "parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                    "parameter_size": "1.2B", "quantization_level": "Q8_0"
                })
        );
        ensure!(models[1]["details"]["parameter_size"] == "751.63M");
        ensure!(models[1]["details"]["quantization_level"] == "Q4_K_M");

        let unknown = client().get(format!("{url}/api/nope")).send().await?;
        ensure!(unknown.status() == 404);
        ensure!(unknown.text().await? == "404 page not found");
        let wrong_method = client().get(format!("{url}/api/chat")).send().await?;
        ensure!(wrong_method.status() == 404);
        Ok(())
    }

    #[tokio::test]
    async fn show_answers_details_and_capabilities() -> Result<()> {
        let fake = FakeOllama::start().await?;
        let url = format!("{}/api/show", fake.url());
        let v: Value = post(url.clone(), serde_json::json!({"model": "qwen3:0.6b"}))
            .await?
            .json()
            .await?;
        ensure!(v["capabilities"] == serde_json::json!(["completion", "thinking"]));
        ensure!(v["details"]["family"] == "qwen3");
        ensure!(v["model_info"]["general.architecture"] == "qwen3");
        ensure!(v["model_info"]["general.parameter_count"] == 1_235_814_432u64);
        ensure!(v["template"] == "{{ .Prompt }}");
        ensure!(v["parameters"] == "stop \"<|eot_id|>\"");
        ensure!(
            v["modelfile"]
                .as_str()
                .is_some_and(|m| m.starts_with("# Modelfile"))
        );
        // Older clients send "name".
        let v: Value = post(url.clone(), serde_json::json!({"name": "llama3.2:1b"}))
            .await?
            .json()
            .await?;
        ensure!(v["capabilities"] == serde_json::json!(["completion"]));
        let unknown = post(url, serde_json::json!({"model": "nope:1b"})).await?;
        ensure!(unknown.status() == 404);
        ensure!(unknown.json::<Value>().await?["error"] == "model 'nope:1b' not found");
        Ok(())
    }

    #[tokio::test]
    async fn chat_streams_one_line_per_token_then_the_final_chunk() -> Result<()> {
        let fake = FakeOllama::start().await?;
        fake.set_tokens(5);
        let resp = post(format!("{}/api/chat", fake.url()), chat_body("llama3.2:1b")).await?;
        ensure!(resp.status() == 200);
        ensure!(content_type(&resp) == "application/x-ndjson");
        let text = resp.text().await?;
        let first = text.lines().next().unwrap_or_default();
        ensure!(
            first.starts_with(r#"{"model":"llama3.2:1b","created_at":""#)
                && first.ends_with(
                    r#"","message":{"role":"assistant","content":"tok0 "},"done":false}"#
                ),
            "{first}"
        );
        let lines: Vec<Value> = text
            .lines()
            .map(serde_json::from_str)
            .collect::<std::result::Result<_, _>>()?;
        ensure!(lines.len() == 6);
        for (i, l) in lines[..5].iter().enumerate() {
            ensure!(l["message"]["content"] == format!("tok{i} "));
            ensure!(l["done"] == false && l.get("thinking").is_none());
            ensure!(is_rfc3339(l["created_at"].as_str().unwrap_or_default()));
        }
        let last = &lines[5];
        ensure!(last["done"] == true && last["done_reason"] == "stop");
        ensure!(last["message"] == serde_json::json!({"role": "assistant", "content": ""}));
        ensure!(last["eval_count"] == 5);
        // "hello there" = 11 characters.
        ensure!(last["prompt_eval_count"] == 2);
        ensure!(last["eval_duration"] == 5_000_000);
        let n = |f: &str| last[f].as_u64().unwrap_or(0);
        ensure!(n("load_duration") > 0 && n("prompt_eval_duration") > 0);
        ensure!(n("total_duration") > n("eval_duration") + n("load_duration"));
        ensure!(
            text.lines()
                .last()
                .unwrap_or_default()
                .contains(r#""done_reason":"stop","done":true,"total_duration":"#)
        );

        let recs = fake.chat_streams();
        ensure!(recs.len() == 1);
        let rec = &recs[0];
        ensure!(rec.model == "llama3.2:1b" && rec.stream);
        ensure!(rec.finished && !rec.client_gone && rec.sent_at.len() == 6);
        Ok(())
    }

    #[tokio::test]
    async fn each_line_is_its_own_http_chunk_and_paced() -> Result<()> {
        let fake = FakeOllama::start().await?;
        fake.set_tokens(4);
        fake.set_token_delay(Duration::from_millis(20));
        let body = chat_body("llama3.2:1b").to_string();
        let mut sock = TcpStream::connect(fake.addr()).await?;
        let request = format!(
            "POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        sock.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        sock.read_to_end(&mut raw).await?;
        let raw = String::from_utf8(raw)?;
        let (head, mut rest) = raw.split_once("\r\n\r\n").context("no header end")?;
        let head = head.to_ascii_lowercase();
        ensure!(head.starts_with("http/1.1 200"), "{head}");
        ensure!(head.contains("transfer-encoding: chunked"), "{head}");
        ensure!(
            head.contains("content-type: application/x-ndjson"),
            "{head}"
        );
        let mut chunks = Vec::new();
        loop {
            let (size, after) = rest.split_once("\r\n").context("chunk size")?;
            let size = usize::from_str_radix(size, 16)?;
            if size == 0 {
                break;
            }
            chunks.push(&after[..size]);
            rest = after[size..].strip_prefix("\r\n").context("chunk end")?;
        }
        ensure!(chunks.len() == 5, "{chunks:?}");
        for c in &chunks {
            ensure!(c.ends_with('\n') && c.matches('\n').count() == 1, "{c:?}");
        }
        let rec = &fake.chat_streams()[0];
        for pair in rec.sent_at.windows(2) {
            ensure!(pair[1] - pair[0] >= Duration::from_millis(18));
        }
        let last: Value = serde_json::from_str(chunks[4])?;
        ensure!(last["eval_duration"] == 4 * 20_000_000u64);
        Ok(())
    }

    #[tokio::test]
    async fn thinking_models_think_first_unless_told_not_to() -> Result<()> {
        let fake = FakeOllama::start().await?;
        fake.set_tokens(2);
        let url = format!("{}/api/chat", fake.url());
        let streamed = lines(post(url.clone(), chat_body("qwen3:0.6b")).await?).await?;
        ensure!(streamed.len() == 3 + 2 + 1);
        for (i, chunk) in streamed.iter().take(3).enumerate() {
            let thinking = format!("think{i} ");
            ensure!(
                chunk["message"]
                    == serde_json::json!({"role": "assistant", "content": "", "thinking": thinking})
            );
        }
        ensure!(streamed[3]["message"]["content"] == "tok0 ");
        ensure!(streamed[3]["message"].get("thinking").is_none());
        ensure!(streamed[5]["eval_count"] == 2);

        let mut no_think = chat_body("qwen3:0.6b");
        no_think["think"] = Value::Bool(false);
        let streamed = lines(post(url.clone(), no_think).await?).await?;
        ensure!(streamed.len() == 3);

        let mut think = chat_body("llama3.2:1b");
        think["think"] = Value::Bool(true);
        let refused = post(url, think).await?;
        ensure!(refused.status() == 400);
        ensure!(
            refused.json::<Value>().await?["error"] == "\"llama3.2:1b\" does not support thinking"
        );
        Ok(())
    }

    #[tokio::test]
    async fn non_stream_answers_one_object() -> Result<()> {
        let fake = FakeOllama::start().await?;
        fake.set_tokens(3);
        let url = format!("{}/api/chat", fake.url());
        let mut body = chat_body("qwen3:0.6b");
        body["stream"] = Value::Bool(false);
        let resp = post(url.clone(), body).await?;
        ensure!(content_type(&resp).starts_with("application/json"));
        let text = resp.text().await?;
        ensure!(text.lines().count() == 1);
        let v: Value = serde_json::from_str(&text)?;
        ensure!(v["message"]["content"] == "tok0 tok1 tok2 ");
        ensure!(v["message"]["thinking"] == "think0 think1 think2 ");
        ensure!(v["done"] == true && v["done_reason"] == "stop" && v["eval_count"] == 3);
        ensure!(v["total_duration"].as_u64().is_some_and(|t| t > 3_000_000));

        let mut body = chat_body("llama3.2:1b");
        body["stream"] = Value::Bool(false);
        let v: Value = post(url, body).await?.json().await?;
        ensure!(
            v["message"] == serde_json::json!({"role": "assistant", "content": "tok0 tok1 tok2 "})
        );
        let recs = fake.chat_streams();
        ensure!(recs.len() == 2 && !recs[1].stream && recs[1].finished);
        Ok(())
    }

    #[tokio::test]
    async fn model_not_found_and_server_error() -> Result<()> {
        let fake = FakeOllama::start().await?;
        let base = fake.url();
        let chat = format!("{base}/api/chat");

        let unknown = post(chat.clone(), chat_body("nope:7b")).await?;
        ensure!(unknown.status() == 404);
        ensure!(
            unknown.json::<Value>().await?["error"]
                == "model \"nope:7b\" not found, try pulling it first"
        );

        fake.set_fault(FaultMode::ModelNotFound);
        let r = post(chat.clone(), chat_body("llama3.2:1b")).await?;
        ensure!(r.status() == 404);
        ensure!(
            r.json::<Value>().await?["error"]
                == "model \"llama3.2:1b\" not found, try pulling it first"
        );
        let r = post(
            format!("{base}/api/show"),
            serde_json::json!({"model": "llama3.2:1b"}),
        )
        .await?;
        ensure!(r.status() == 404);
        ensure!(
            client()
                .get(format!("{base}/api/tags"))
                .send()
                .await?
                .status()
                == 200
        );

        fake.set_fault(FaultMode::ServerError);
        for resp in [
            post(chat.clone(), chat_body("llama3.2:1b")).await?,
            client().get(format!("{base}/api/tags")).send().await?,
            client().get(format!("{base}/api/version")).send().await?,
            post(
                format!("{base}/api/pull"),
                serde_json::json!({"model": "x"}),
            )
            .await?,
        ] {
            ensure!(resp.status() == 500);
            ensure!(content_type(&resp).starts_with("application/json"));
            ensure!(
                resp.text().await?
                    == r#"{"error":"llama runner process has terminated: exit status 2"}"#
            );
        }
        ensure!(client().get(&base).send().await?.status() == 200);

        fake.set_fault(FaultMode::Normal);
        ensure!(post(chat, chat_body("llama3.2:1b")).await?.status() == 200);
        // Every /api/chat call is recorded, failed ones too.
        ensure!(fake.chat_streams().len() == 4);
        Ok(())
    }

    #[tokio::test]
    async fn error_and_garbage_mid_stream() -> Result<()> {
        let fake = FakeOllama::start().await?;
        let url = format!("{}/api/chat", fake.url());
        fake.set_tokens(4);

        fake.set_fault(FaultMode::ErrorMidStream { after: 2 });
        let l = lines(post(url.clone(), chat_body("llama3.2:1b")).await?).await?;
        ensure!(l.len() == 3, "{l:?}");
        ensure!(l[1]["message"]["content"] == "tok1 ");
        ensure!(l[2] == serde_json::json!({ "error": MID_STREAM_ERROR }));
        ensure!(
            MID_STREAM_ERROR == "an error was encountered while running the model: unexpected EOF"
        );

        // Thinking chunks do not count towards `after`.
        let l = lines(post(url.clone(), chat_body("qwen3:0.6b")).await?).await?;
        ensure!(l.len() == 3 + 2 + 1 && l[5]["error"].is_string());

        fake.set_fault(FaultMode::GarbageMidStream { after: 1 });
        let l = lines(post(url.clone(), chat_body("llama3.2:1b")).await?).await?;
        ensure!(l.len() == 2);
        ensure!(l[1] == Value::String(GARBAGE_LINE.into()), "{:?}", l[1]);

        // `after` past the end: all content, then the fault instead of the final chunk.
        fake.set_fault(FaultMode::ErrorMidStream { after: 10 });
        let l = lines(post(url.clone(), chat_body("llama3.2:1b")).await?).await?;
        ensure!(l.len() == 5 && l[4]["error"].is_string());

        let mut whole = chat_body("llama3.2:1b");
        whole["stream"] = Value::Bool(false);
        ensure!(post(url.clone(), whole).await?.status() == 500);

        let recs = fake.chat_streams();
        ensure!(recs.iter().all(|r| !r.finished && !r.client_gone));
        ensure!(recs[0].sent_at.len() == 3);
        Ok(())
    }

    #[tokio::test]
    async fn slow_first_byte_and_stall() -> Result<()> {
        let fake = FakeOllama::start().await?;
        let url = format!("{}/api/chat", fake.url());
        fake.set_tokens(4);

        fake.set_fault(FaultMode::SlowFirstByte(Duration::from_millis(300)));
        let started = Instant::now();
        let resp = post(url.clone(), chat_body("llama3.2:1b")).await?;
        let slowed = started.elapsed();
        ensure!(slowed >= Duration::from_millis(290));
        ensure!(lines(resp).await?.len() == 5);
        // Other routes are not slowed down.
        let started = Instant::now();
        client()
            .get(format!("{}/api/tags", fake.url()))
            .send()
            .await?;
        // Relative, so a loaded machine cannot make it flaky.
        ensure!(started.elapsed() < slowed);

        fake.set_fault(FaultMode::StallAfter {
            after: 2,
            stall: Duration::from_millis(300),
        });
        let l = lines(post(url.clone(), chat_body("llama3.2:1b")).await?).await?;
        ensure!(l.len() == 5 && l[4]["done"] == true);
        let rec = &fake.chat_streams()[1];
        ensure!(rec.finished && rec.sent_at.len() == 5);
        ensure!(rec.sent_at[2] - rec.sent_at[1] >= Duration::from_millis(290));
        ensure!(rec.sent_at[1] - rec.sent_at[0] < rec.sent_at[2] - rec.sent_at[1]);

        fake.set_fault(FaultMode::Normal);
        fake.set_first_byte_delay(Duration::from_millis(200));
        let started = Instant::now();
        post(url, chat_body("llama3.2:1b")).await?;
        ensure!(started.elapsed() >= Duration::from_millis(190));

        let configured = FakeOllama::start_with(FakeOllamaConfig {
            first_byte_delay: Duration::from_millis(200),
            tokens: 1,
            ..FakeOllamaConfig::default()
        })
        .await?;
        let started = Instant::now();
        let l = lines(
            post(
                format!("{}/api/chat", configured.url()),
                chat_body("llama3.2:1b"),
            )
            .await?,
        )
        .await?;
        ensure!(started.elapsed() >= Duration::from_millis(190) && l.len() == 2);
        Ok(())
    }

    #[tokio::test]
    async fn client_going_away_is_recorded() -> Result<()> {
        let fake = FakeOllama::start().await?;
        fake.set_tokens(1000);
        fake.set_token_delay(Duration::from_millis(5));
        let mut resp = post(format!("{}/api/chat", fake.url()), chat_body("llama3.2:1b")).await?;
        let first = resp.chunk().await?.context("no first chunk")?;
        ensure!(first.ends_with(b"\n"));
        drop(resp);
        ensure!(wait_for(|| fake.chat_streams()[0].client_gone).await);
        let rec = &fake.chat_streams()[0];
        ensure!(!rec.finished && rec.sent_at.len() < 1000);

        // Also while stalled.
        fake.set_fault(FaultMode::StallAfter {
            after: 1,
            stall: Duration::from_secs(60),
        });
        let mut resp = post(format!("{}/api/chat", fake.url()), chat_body("llama3.2:1b")).await?;
        resp.chunk().await?.context("no first chunk")?;
        drop(resp);
        ensure!(wait_for(|| fake.chat_streams()[1].client_gone).await);
        Ok(())
    }

    #[tokio::test]
    async fn pull_streams_progress_and_installs() -> Result<()> {
        let fake = FakeOllama::start().await?;
        let url = format!("{}/api/pull", fake.url());
        let resp = post(url.clone(), serde_json::json!({"model": "phi3:mini"})).await?;
        ensure!(content_type(&resp) == "application/x-ndjson");
        let text = resp.text().await?;
        let l: Vec<Value> = text
            .lines()
            .map(serde_json::from_str)
            .collect::<std::result::Result<_, _>>()?;
        ensure!(l.len() == 9, "{l:?}");
        ensure!(l[0] == serde_json::json!({"status": "pulling manifest"}));
        let completed: Vec<u64> = l[1..6]
            .iter()
            .filter_map(|p| p["completed"].as_u64())
            .collect();
        ensure!(completed == [0, 250_000, 500_000, 750_000, 1_000_000]);
        let status = l[1]["status"].as_str().unwrap_or_default();
        let digest = l[1]["digest"].as_str().unwrap_or_default();
        ensure!(status.len() == "pulling ".len() + 12);
        ensure!(digest.len() == 7 + 64 && digest[7..].starts_with(&status[8..]));
        ensure!(l[1]["total"] == 1_000_000);
        ensure!(
            text.lines()
                .nth(1)
                .unwrap_or_default()
                .starts_with(r#"{"status":"pulling "#)
        );
        ensure!(l[6]["status"] == "verifying sha256 digest");
        ensure!(l[7]["status"] == "writing manifest");
        ensure!(l[8] == serde_json::json!({"status": "success"}));
        ensure!(fake.models().iter().any(|m| m.name == "phi3:mini"));
        let chat = post(format!("{}/api/chat", fake.url()), chat_body("phi3:mini")).await?;
        ensure!(chat.status() == 200);

        let missing =
            lines(post(url.clone(), serde_json::json!({"name": "missing:1b"})).await?).await?;
        ensure!(
            missing == [serde_json::json!({"error": "pull model manifest: file does not exist"})]
        );
        ensure!(!fake.models().iter().any(|m| m.name.contains("missing")));

        // Untagged names mean :latest; stream false answers one object.
        let whole = post(url, serde_json::json!({"model": "gemma3", "stream": false})).await?;
        ensure!(whole.json::<Value>().await? == serde_json::json!({"status": "success"}));
        ensure!(fake.models().iter().any(|m| m.name == "gemma3:latest"));
        Ok(())
    }

    #[tokio::test]
    async fn pull_lines_are_paced() -> Result<()> {
        let fake = FakeOllama::start().await?;
        fake.set_token_delay(Duration::from_millis(10));
        let started = Instant::now();
        let l = lines(
            post(
                format!("{}/api/pull", fake.url()),
                serde_json::json!({"model": "a:1"}),
            )
            .await?,
        )
        .await?;
        ensure!(l.len() == 9 && started.elapsed() >= Duration::from_millis(75));
        Ok(())
    }

    #[tokio::test]
    async fn delete_removes_models() -> Result<()> {
        let fake = FakeOllama::start().await?;
        let url = format!("{}/api/delete", fake.url());
        let del = client()
            .delete(&url)
            .json(&serde_json::json!({"model": "llama3.2:1b"}))
            .send()
            .await?;
        ensure!(del.status() == 200);
        ensure!(del.bytes().await?.is_empty());
        let tags: Value = client()
            .get(format!("{}/api/tags", fake.url()))
            .send()
            .await?
            .json()
            .await?;
        ensure!(tags["models"].as_array().map(Vec::len) == Some(1));
        ensure!(tags["models"][0]["name"] == "qwen3:0.6b");
        let again = client()
            .delete(&url)
            .json(&serde_json::json!({"name": "llama3.2:1b"}))
            .send()
            .await?;
        ensure!(again.status() == 404);
        ensure!(again.json::<Value>().await?["error"] == "model 'llama3.2:1b' not found");
        let chat = post(format!("{}/api/chat", fake.url()), chat_body("llama3.2:1b")).await?;
        ensure!(chat.status() == 404);
        Ok(())
    }

    #[tokio::test]
    async fn requests_are_recorded_in_order() -> Result<()> {
        let fake = FakeOllama::start().await?;
        client()
            .get(format!("{}/api/version", fake.url()))
            .send()
            .await?;
        post(
            format!("{}/api/show", fake.url()),
            serde_json::json!({"model": "qwen3:0.6b"}),
        )
        .await?;
        let reqs = fake.requests();
        ensure!(reqs.len() == 2);
        ensure!(
            reqs[0].method == "GET" && reqs[0].path == "/api/version" && reqs[0].body.is_none()
        );
        ensure!(reqs[1].method == "POST" && reqs[1].path == "/api/show");
        ensure!(reqs[1].body == Some(serde_json::json!({"model": "qwen3:0.6b"})));
        fake.clear_records();
        ensure!(fake.requests().is_empty());
        let bad = client()
            .post(format!("{}/api/chat", fake.url()))
            .body("not json")
            .send()
            .await?;
        ensure!(bad.status() == 400);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn serves_many_connections_at_once() -> Result<()> {
        let fake = FakeOllama::start().await?;
        fake.set_tokens(10);
        fake.set_token_delay(Duration::from_millis(20));
        let url = format!("{}/api/chat", fake.url());
        let started = Instant::now();
        let calls = (0..20).map(|_| {
            let url = url.clone();
            async move { lines(post(url, chat_body("llama3.2:1b")).await?).await }
        });
        for result in futures::future::join_all(calls).await {
            ensure!(result?.len() == 11);
        }
        // 20 × 200 ms one after another take at least 4 s: less proves they overlapped.
        ensure!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
        ensure!(fake.chat_streams().iter().all(|r| r.finished));
        Ok(())
    }

    #[tokio::test]
    async fn refused_url_and_drop_shut_down() -> Result<()> {
        let refused = FakeOllama::refused_url().await;
        ensure!(refused.starts_with("http://127.0.0.1:"));
        ensure!(client().get(&refused).send().await.is_err());

        let fake = FakeOllama::start().await?;
        let addr = fake.addr();
        fake.set_tokens(1000);
        fake.set_token_delay(Duration::from_millis(10));
        let mut resp = post(format!("{}/api/chat", fake.url()), chat_body("llama3.2:1b")).await?;
        resp.chunk().await?.context("no first chunk")?;
        drop(fake);
        tokio::time::sleep(Duration::from_millis(50)).await;
        ensure!(TcpStream::connect(addr).await.is_err());
        // The open stream is cut too.
        let mut rest = Ok(());
        for _ in 0..1000 {
            match resp.chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) => bail!("the stream ended normally"),
                Err(e) => {
                    rest = Err(e);
                    break;
                }
            }
        }
        ensure!(rest.is_err());
        Ok(())
    }
}
