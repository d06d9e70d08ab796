//! A fake Ollama for tests and benchmarks: Ollama's HTTP API with its exact wire shapes
//! (NDJSON streaming, nanosecond durations, `done_reason`, token counts), a configurable
//! answer length and pace, and fault modes (refused connection, unknown model, 500, an
//! `{"error":...}` line or garbage mid-stream, a slow first byte, a stall).

use anyhow::Result;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

#[derive(Clone, Debug)]
pub struct FakeModel {
    pub name: String,
    pub size: u64,
    pub family: String,
    pub parameter_size: String,
    pub quantization_level: String,
    pub thinking: bool,
}

impl FakeModel {
    fn new(name: &str, size: u64, family: &str, params: &str, quant: &str, thinking: bool) -> Self {
        Self {
            name: name.into(),
            size,
            family: family.into(),
            parameter_size: params.into(),
            quantization_level: quant.into(),
            thinking,
        }
    }
}

#[derive(Clone, Debug)]
pub struct FakeOllamaConfig {
    /// Content chunks per `/api/chat` answer.
    pub tokens: usize,
    /// Delay between chunks.
    pub token_delay: Duration,
    /// Delay before `/api/chat` sends its headers.
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
    /// `after` chunks, then an `{"error": ...}` line, then the stream ends.
    ErrorMidStream {
        after: usize,
    },
    /// `after` chunks, then a line that is not JSON, then the stream ends.
    GarbageMidStream {
        after: usize,
    },
    /// `/api/chat` waits this long before sending its headers.
    SlowFirstByte(Duration),
    /// `after` chunks, then a pause of `stall`, then the rest.
    StallAfter {
        after: usize,
        stall: Duration,
    },
}

#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub body: Option<Value>,
}

#[derive(Clone, Debug)]
pub struct ChatStreamRecord {
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
}

type Shared = Arc<Mutex<State>>;

fn lock(s: &Shared) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

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
    pub async fn start() -> Result<FakeOllama> {
        Self::start_with(FakeOllamaConfig::default()).await
    }

    pub async fn start_with(config: FakeOllamaConfig) -> Result<FakeOllama> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state: Shared = Arc::new(Mutex::new(State {
            config,
            fault: FaultMode::Normal,
            requests: Vec::new(),
            chats: Vec::new(),
        }));
        let served = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = served.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(FakeOllama { addr, state, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn set_fault(&self, mode: FaultMode) {
        lock(&self.state).fault = mode;
    }

    pub fn set_tokens(&self, n: usize) {
        lock(&self.state).config.tokens = n;
    }

    pub fn set_token_delay(&self, d: Duration) {
        lock(&self.state).config.token_delay = d;
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    pub fn chat_streams(&self) -> Vec<ChatStreamRecord> {
        lock(&self.state).chats.clone()
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

type Body = BoxBody<Bytes, Infallible>;

fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

fn json_response(status: StatusCode, value: Value) -> Response<Body> {
    full(status, "application/json; charset=utf-8", value.to_string())
}

fn now_rfc3339() -> String {
    // The exact instant does not matter to clients; the format does.
    "2026-11-23T12:00:00.000000000Z".to_string()
}

fn digest(name: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn details(m: &FakeModel) -> Value {
    json!({
        "parent_model": "",
        "format": "gguf",
        "family": m.family,
        "families": [m.family],
        "parameter_size": m.parameter_size,
        "quantization_level": m.quantization_level,
    })
}

fn model_name(body: &Option<Value>) -> String {
    body.as_ref()
        .and_then(|b| b.get("model").or_else(|| b.get("name")))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

async fn handle(state: Shared, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let bytes = req
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let body: Option<Value> = serde_json::from_slice(&bytes).ok();
    let fault = {
        let mut s = lock(&state);
        s.requests.push(RecordedRequest {
            method: method.to_string(),
            path: path.clone(),
            body: body.clone(),
        });
        s.fault.clone()
    };
    if fault == FaultMode::ServerError && path.starts_with("/api/") {
        return json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "llama runner process has terminated: exit status 2"}),
        );
    }
    match (method, path.as_str()) {
        (Method::GET, "/") | (Method::HEAD, "/") => full(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            "Ollama is running",
        ),
        (Method::GET, "/api/version") => {
            json_response(StatusCode::OK, json!({"version": "0.12.6"}))
        }
        (Method::GET, "/api/tags") => {
            let models: Vec<Value> = lock(&state)
                .config
                .models
                .iter()
                .map(|m| {
                    json!({
                        "name": m.name,
                        "model": m.name,
                        "modified_at": now_rfc3339(),
                        "size": m.size,
                        "digest": digest(&m.name),
                        "details": details(m),
                    })
                })
                .collect();
            json_response(StatusCode::OK, json!({ "models": models }))
        }
        (Method::POST, "/api/show") => show(&state, &fault, &model_name(&body)),
        (Method::POST, "/api/chat") => chat(state, fault, body.unwrap_or(Value::Null)).await,
        (Method::POST, "/api/pull") => pull(state, model_name(&body)),
        (Method::DELETE, "/api/delete") => {
            let name = model_name(&body);
            let mut s = lock(&state);
            let before = s.config.models.len();
            s.config.models.retain(|m| m.name != name);
            if s.config.models.len() == before {
                json_response(
                    StatusCode::NOT_FOUND,
                    json!({"error": format!("model '{name}' not found")}),
                )
            } else {
                full(StatusCode::OK, "text/plain", "")
            }
        }
        _ => full(StatusCode::NOT_FOUND, "text/plain", "404 page not found"),
    }
}

fn find_model(state: &Shared, name: &str) -> Option<FakeModel> {
    lock(state)
        .config
        .models
        .iter()
        .find(|m| m.name == name || m.name == format!("{name}:latest"))
        .cloned()
}

fn show(state: &Shared, fault: &FaultMode, name: &str) -> Response<Body> {
    let model = find_model(state, name).filter(|_| *fault != FaultMode::ModelNotFound);
    let Some(m) = model else {
        return json_response(
            StatusCode::NOT_FOUND,
            json!({"error": format!("model '{name}' not found")}),
        );
    };
    let mut capabilities = vec!["completion"];
    if m.thinking {
        capabilities.push("thinking");
    }
    json_response(
        StatusCode::OK,
        json!({
            "modelfile": format!("# Modelfile generated by \"ollama show\"\nFROM {}\n", m.name),
            "parameters": "stop \"<|eot_id|>\"",
            "template": "{{ .Prompt }}",
            "details": details(&m),
            "model_info": {
                "general.architecture": m.family,
                "general.parameter_count": 1_235_814_432u64,
            },
            "capabilities": capabilities,
            "modified_at": now_rfc3339(),
        }),
    )
}

fn chunk(model: &str, content: &str, thinking: Option<&str>) -> Value {
    let mut message = json!({"role": "assistant", "content": content});
    if let Some(t) = thinking {
        message["thinking"] = Value::from(t);
    }
    json!({"model": model, "created_at": now_rfc3339(), "message": message, "done": false})
}

fn final_fields(value: &mut Value, prompt_chars: usize, tokens: usize, delay: Duration) {
    let per_token = delay.max(Duration::from_millis(1)).as_nanos() as u64;
    let eval = per_token * tokens as u64;
    let load = 1_000_000u64;
    let prompt_eval = 2_000_000u64;
    value["done"] = Value::from(true);
    value["done_reason"] = Value::from("stop");
    value["total_duration"] = Value::from(load + prompt_eval + eval + 1_000_000);
    value["load_duration"] = Value::from(load);
    value["prompt_eval_count"] = Value::from((prompt_chars / 4).max(1));
    value["prompt_eval_duration"] = Value::from(prompt_eval);
    value["eval_count"] = Value::from(tokens);
    value["eval_duration"] = Value::from(eval);
}

async fn chat(state: Shared, fault: FaultMode, body: Value) -> Response<Body> {
    let name = body["model"].as_str().unwrap_or_default().to_string();
    let stream = body["stream"].as_bool().unwrap_or(true);
    let model = find_model(&state, &name).filter(|_| fault != FaultMode::ModelNotFound);
    let Some(model) = model else {
        return json_response(
            StatusCode::NOT_FOUND,
            json!({"error": format!("model \"{name}\" not found, try pulling it first")}),
        );
    };
    let prompt_chars: usize = body["messages"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(|m| m["content"].as_str().map(str::len).unwrap_or(0))
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
    let index = {
        let mut s = lock(&state);
        s.chats.push(ChatStreamRecord {
            model: name.clone(),
            stream,
            sent_at: Vec::new(),
            client_gone: false,
            finished: false,
        });
        s.chats.len() - 1
    };
    let thoughts = if model.thinking { 3 } else { 0 };
    if !stream {
        let content: String = (0..tokens).map(|i| format!("tok{i} ")).collect();
        let mut v = chunk(&name, &content, None);
        if model.thinking {
            let t: String = (0..thoughts).map(|i| format!("think{i} ")).collect();
            v["message"]["thinking"] = Value::from(t);
        }
        final_fields(&mut v, prompt_chars, tokens, delay);
        let mut s = lock(&state);
        if let Some(rec) = s.chats.get_mut(index) {
            rec.sent_at.push(Instant::now());
            rec.finished = true;
        }
        return json_response(StatusCode::OK, v);
    }
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1);
    tokio::spawn(async move {
        let record = |state: &Shared, finished: bool| {
            let mut s = lock(state);
            if let Some(rec) = s.chats.get_mut(index) {
                rec.sent_at.push(Instant::now());
                rec.finished |= finished;
            }
        };
        let gone = |state: &Shared| {
            let mut s = lock(state);
            if let Some(rec) = s.chats.get_mut(index) {
                rec.client_gone = true;
            }
        };
        let send = |line: String| {
            let tx = tx.clone();
            async move {
                tx.send(Ok(Frame::data(Bytes::from(line + "\n"))))
                    .await
                    .is_ok()
            }
        };
        let mut lines: Vec<(String, bool)> = Vec::new();
        for i in 0..thoughts {
            lines.push((
                chunk(&name, "", Some(&format!("think{i} "))).to_string(),
                false,
            ));
        }
        for i in 0..tokens {
            lines.push((chunk(&name, &format!("tok{i} "), None).to_string(), false));
        }
        let mut done = chunk(&name, "", None);
        final_fields(&mut done, prompt_chars, tokens, delay);
        let cut = match fault {
            FaultMode::ErrorMidStream { after } => Some((after, json!({"error": "an error was encountered while running the model: unexpected EOF"}).to_string())),
            FaultMode::GarbageMidStream { after } => Some((after, "<html>oops</html>".to_string())),
            _ => None,
        };
        if cut.is_none() {
            lines.push((done.to_string(), true));
        }
        for (sent, (line, is_final)) in lines.into_iter().enumerate() {
            if let Some((after, bad)) = &cut
                && sent == thoughts + *after
            {
                if send(bad.clone()).await {
                    record(&state, false);
                } else {
                    gone(&state);
                }
                return;
            }
            if let FaultMode::StallAfter { after, stall } = fault
                && sent == thoughts + after
            {
                tokio::time::sleep(stall).await;
            }
            if sent > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if !send(line).await {
                gone(&state);
                return;
            }
            record(&state, is_final);
        }
        if let Some((after, bad)) = &cut
            && *after >= tokens
            && send(bad.clone()).await
        {
            record(&state, false);
        }
    });
    let body = StreamBody::new(tokio_stream(rx)).boxed();
    let mut r = Response::new(body);
    if let Ok(v) = "application/x-ndjson".parse() {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

fn tokio_stream<T>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + Sync + 'static
where
    T: Send + 'static,
{
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

fn pull(state: Shared, name: String) -> Response<Body> {
    let delay = lock(&state).config.token_delay;
    let mut lines = Vec::new();
    if name.contains("missing") {
        lines.push(json!({"error": "pull model manifest: file does not exist"}));
    } else {
        let d = digest(&name);
        lines.push(json!({"status": "pulling manifest"}));
        for completed in [0u64, 250_000, 500_000, 750_000, 1_000_000] {
            lines.push(json!({
                "status": format!("pulling {}", &d[..12]),
                "digest": format!("sha256:{d}"),
                "total": 1_000_000u64,
                "completed": completed,
            }));
        }
        lines.push(json!({"status": "verifying sha256 digest"}));
        lines.push(json!({"status": "writing manifest"}));
        lines.push(json!({"status": "success"}));
    }
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1);
    tokio::spawn(async move {
        let ok = !name.contains("missing");
        for (i, line) in lines.into_iter().enumerate() {
            if i > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if tx
                .send(Ok(Frame::data(Bytes::from(line.to_string() + "\n"))))
                .await
                .is_err()
            {
                return;
            }
        }
        if ok {
            let mut s = lock(&state);
            if !s.config.models.iter().any(|m| m.name == name) {
                s.config.models.push(FakeModel::new(
                    &name, 1_000_000, "llama", "1B", "Q4_0", false,
                ));
            }
        }
    });
    let mut r = Response::new(StreamBody::new(tokio_stream(rx)).boxed());
    if let Ok(v) = "application/x-ndjson".parse() {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(resp: reqwest::Response) -> Vec<Value> {
        let text = resp.text().await.unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or(Value::String(l.to_string())))
            .collect()
    }

    async fn post(url: String, body: Value) -> reqwest::Response {
        reqwest::Client::new()
            .post(url)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn chat_streams_one_line_per_token_then_the_final_chunk() {
        let fake = FakeOllama::start().await.unwrap_or_else(|e| panic!("{e}"));
        fake.set_tokens(5);
        let resp = post(
            format!("{}/api/chat", fake.url()),
            json!({"model": "llama3.2:1b", "messages": [{"role": "user", "content": "hello there"}]}),
        )
        .await;
        assert_eq!(
            resp.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/x-ndjson")
        );
        let lines = lines(resp).await;
        assert_eq!(lines.len(), 6);
        let content: String = lines
            .iter()
            .filter_map(|l| l["message"]["content"].as_str())
            .collect();
        assert_eq!(content, "tok0 tok1 tok2 tok3 tok4 ");
        let last = &lines[5];
        assert_eq!(last["done"], true);
        assert_eq!(last["done_reason"], "stop");
        assert_eq!(last["eval_count"], 5);
        for field in [
            "total_duration",
            "load_duration",
            "prompt_eval_count",
            "prompt_eval_duration",
            "eval_duration",
        ] {
            assert!(last[field].as_u64().is_some_and(|v| v > 0), "{field}");
        }
        let rec = &fake.chat_streams()[0];
        assert!(rec.finished && !rec.client_gone && rec.sent_at.len() == 6);
    }

    #[tokio::test]
    async fn thinking_models_send_thinking_first_and_non_stream_has_one_object() {
        let fake = FakeOllama::start().await.unwrap_or_else(|e| panic!("{e}"));
        fake.set_tokens(2);
        let url = format!("{}/api/chat", fake.url());
        let streamed =
            lines(post(url.clone(), json!({"model": "qwen3:0.6b", "messages": []})).await).await;
        assert_eq!(streamed[0]["message"]["thinking"], "think0 ");
        assert_eq!(streamed.len(), 3 + 2 + 1);
        let whole = post(
            url,
            json!({"model": "qwen3:0.6b", "messages": [], "stream": false}),
        )
        .await;
        let v: Value = whole.json().await.unwrap_or_default();
        assert_eq!(v["message"]["content"], "tok0 tok1 ");
        assert_eq!(v["message"]["thinking"], "think0 think1 think2 ");
        assert_eq!(v["done"], true);
    }

    #[tokio::test]
    async fn fault_modes() {
        let fake = FakeOllama::start().await.unwrap_or_else(|e| panic!("{e}"));
        let url = format!("{}/api/chat", fake.url());
        let body = json!({"model": "llama3.2:1b", "messages": []});
        fake.set_tokens(4);

        fake.set_fault(FaultMode::ModelNotFound);
        assert_eq!(post(url.clone(), body.clone()).await.status(), 404);

        fake.set_fault(FaultMode::ServerError);
        assert_eq!(post(url.clone(), body.clone()).await.status(), 500);

        fake.set_fault(FaultMode::ErrorMidStream { after: 2 });
        let l = lines(post(url.clone(), body.clone()).await).await;
        assert_eq!(l.len(), 3);
        assert!(l[2]["error"].is_string());

        fake.set_fault(FaultMode::GarbageMidStream { after: 1 });
        let l = lines(post(url.clone(), body.clone()).await).await;
        assert_eq!(l.len(), 2);
        assert!(l[1].is_string(), "not JSON: {:?}", l[1]);

        let unknown = post(url.clone(), json!({"model": "nope", "messages": []})).await;
        assert_eq!(unknown.status(), 404);

        let refused = FakeOllama::refused_url().await;
        assert!(reqwest::get(refused).await.is_err());
    }

    #[tokio::test]
    async fn client_going_away_is_recorded() {
        let fake = FakeOllama::start().await.unwrap_or_else(|e| panic!("{e}"));
        fake.set_tokens(200);
        fake.set_token_delay(Duration::from_millis(5));
        let mut resp = post(
            format!("{}/api/chat", fake.url()),
            json!({"model": "llama3.2:1b", "messages": []}),
        )
        .await;
        let _first = resp.chunk().await;
        drop(resp);
        for _ in 0..200 {
            if fake.chat_streams()[0].client_gone {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let rec = &fake.chat_streams()[0];
        assert!(rec.client_gone && !rec.finished);
    }

    #[tokio::test]
    async fn models_pull_and_delete() {
        let fake = FakeOllama::start().await.unwrap_or_else(|e| panic!("{e}"));
        let tags: Value = reqwest::get(format!("{}/api/tags", fake.url()))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_default();
        assert_eq!(tags["models"][0]["details"]["family"], "llama");
        let pulled = lines(
            post(
                format!("{}/api/pull", fake.url()),
                json!({"model": "phi3:mini"}),
            )
            .await,
        )
        .await;
        assert_eq!(
            pulled.first().map(|l| l["status"].clone()),
            Some(json!("pulling manifest"))
        );
        assert_eq!(
            pulled.last().map(|l| l["status"].clone()),
            Some(json!("success"))
        );
        assert!(pulled.iter().any(|l| l["completed"] == 500_000));
        let missing = lines(
            post(
                format!("{}/api/pull", fake.url()),
                json!({"model": "missing:1"}),
            )
            .await,
        )
        .await;
        assert!(missing[0]["error"].is_string());
        let client = reqwest::Client::new();
        let del = client
            .delete(format!("{}/api/delete", fake.url()))
            .json(&json!({"model": "llama3.2:1b"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(del.status(), 200);
        let again = client
            .delete(format!("{}/api/delete", fake.url()))
            .json(&json!({"model": "llama3.2:1b"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.status(), 404);
        let show = post(
            format!("{}/api/show", fake.url()),
            json!({"model": "qwen3:0.6b"}),
        )
        .await;
        let v: Value = show.json().await.unwrap_or_default();
        assert_eq!(v["capabilities"], json!(["completion", "thinking"]));
    }
}
