//! Ollama over outbound HTTP, with the contract's errors: refused or unreachable →
//! `503 OLLAMA_UNAVAILABLE`; no answer within `ollama_timeout_seconds` → `504
//! UPSTREAM_TIMEOUT`; unknown model → `404 MODEL_NOT_FOUND`; any other failure →
//! `502 UPSTREAM_ERROR`. Ollama's own error text is logged, not sent.

use chat_core::ollama::LineBuffer;
use chat_core::{Error, ErrorCode};
use futures::StreamExt;
use futures::future::{Either, select};
use http_body_util::BodyDataStream;
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{Method, Response, StatusCode};
use std::time::Duration;

pub fn unavailable(cause: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::OllamaUnavailable,
        "Ollama cannot be reached right now. Try again shortly.",
    )
    .with_cause(cause)
}

pub fn timeout() -> Error {
    Error::new(ErrorCode::UpstreamTimeout, "Ollama did not answer in time.")
}

pub fn upstream(cause: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::UpstreamError, "Ollama failed to answer.").with_cause(cause)
}

pub fn model_not_found(name: &str) -> Error {
    Error::new(
        ErrorCode::ModelNotFound,
        format!("Model `{name}` is not installed in Ollama."),
    )
    .detail("model", name)
}

/// `fut`, or `None` when `limit` passes first.
pub async fn within<T>(limit: Duration, fut: impl Future<Output = T>) -> Option<T> {
    let mut fut = std::pin::pin!(fut);
    // What is already there needs no timer (a host call to set and one to drop).
    if let std::task::Poll::Ready(v) = futures::poll!(fut.as_mut()) {
        return Some(v);
    }
    let sleep = std::pin::pin!(spin_sdk::time::sleep(limit));
    match select(fut, sleep).await {
        Either::Left((v, _)) => Some(v),
        Either::Right(_) => None,
    }
}

/// Sends a request to Ollama and waits for its status line (at most `limit`). A status
/// that is not 2xx becomes the contract's error (`model` names the model for a 404).
pub async fn send(
    base: &str,
    method: Method,
    path: &str,
    body: Option<&serde_json::Value>,
    limit: Duration,
    model: Option<&str>,
) -> Result<Response, Error> {
    let url = format!("{base}{path}");
    let body = match body {
        Some(b) => Some(serde_json::to_vec(b).map_err(Error::internal)?),
        None => None,
    };
    let sent = within(limit, prewritten(method, &url, body)).await;
    let resp = match sent {
        None => return Err(timeout().with_cause(format!("no answer from {path}"))),
        Some(Err(e)) => return Err(unavailable(format!("{path}: {e}"))),
        Some(Ok(r)) => r,
    };
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let text = match within(limit, resp.into_body().bytes()).await {
        Some(Ok(b)) => String::from_utf8_lossy(&b).chars().take(500).collect(),
        _ => String::new(),
    };
    Err(match (status, model) {
        (StatusCode::NOT_FOUND, Some(m)) => model_not_found(m).with_cause(text),
        _ => upstream(format!("{path} answered {status}: {text}")),
    })
}

/// Sends a request whose body is already offered when the host takes the request.
///
/// Spin's outbound client pools connections and keeps Nagle's algorithm on. On a reused
/// connection, a request whose head leaves before its body is written makes two writes, and
/// the second (the body) waits for the server's delayed ACK of the first: about 40 ms more to
/// the first token, on every message but the first. `spin_sdk::http::send` writes the body from
/// a task of its own, which runs only after the host has taken the request, so the head goes
/// alone. Here the body's write is started (and waits for the host to read it) before the
/// request is handed over, so the host finds the body ready and sends head and body together.
async fn prewritten(method: Method, url: &str, body: Option<Vec<u8>>) -> Result<Response, String> {
    use spin_sdk::wasip3::http::types::{Fields, Method as WasiMethod, Request, Scheme};
    use spin_sdk::wasip3::{wit_future, wit_stream};

    let uri: http::Uri = url.parse().map_err(|e| format!("bad URL {url:?}: {e}"))?;
    let mut headers = vec![("content-type".to_string(), b"application/json".to_vec())];
    if let Some(b) = &body {
        headers.push((
            "content-length".to_string(),
            b.len().to_string().into_bytes(),
        ));
    }
    let fields = Fields::from_list(&headers).map_err(|e| format!("headers: {e:?}"))?;
    let (trailers_tx, trailers_rx) = wit_future::new(|| Ok(None));
    drop(trailers_tx); // no trailers: the reader gets the default, `Ok(None)`
    let (contents_tx, contents_rx) = match body.is_some() {
        true => {
            let (tx, rx) = wit_stream::new::<u8>();
            (Some(tx), Some(rx))
        }
        false => (None, None),
    };
    let (request, _sent) = Request::new(fields, contents_rx, trailers_rx, None);
    let method = match method {
        Method::GET => WasiMethod::Get,
        Method::POST => WasiMethod::Post,
        Method::DELETE => WasiMethod::Delete,
        other => WasiMethod::Other(other.to_string()),
    };
    let bad = |what: &str| format!("bad {what} in {url:?}");
    request.set_method(&method).map_err(|()| bad("method"))?;
    let scheme = match uri.scheme_str() {
        Some("https") => Scheme::Https,
        _ => Scheme::Http,
    };
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| bad("scheme"))?;
    request
        .set_authority(uri.authority().map(|a| a.as_str()))
        .map_err(|()| bad("authority"))?;
    request
        .set_path_with_query(uri.path_and_query().map(|p| p.as_str()))
        .map_err(|()| bad("path"))?;
    let mut write = std::pin::pin!(async move {
        if let (Some(mut tx), Some(bytes)) = (contents_tx, body) {
            let _ = tx.write_all(bytes).await;
        }
    });
    // The first poll starts the write; it completes once the host reads the body.
    let written = futures::poll!(write.as_mut()).is_ready();
    let sending = spin_sdk::wasip3::http::client::send(request);
    let (response, ()) = futures::join!(sending, async {
        if !written {
            write.await;
        }
    });
    let response = response.map_err(|e| format!("{e:?}"))?;
    <Response as spin_sdk::http::FromResponse>::from_response(response)
        .map_err(|e| format!("{e:?}"))
}

/// Reads a JSON answer (at most `limit` for the body).
pub async fn json(resp: Response, limit: Duration) -> Result<serde_json::Value, Error> {
    let bytes = within(limit, resp.into_body().bytes())
        .await
        .ok_or_else(timeout)?
        .map_err(|e| upstream(format!("reading answer: {e:?}")))?;
    serde_json::from_slice(&bytes).map_err(|e| upstream(format!("answer is not JSON: {e}")))
}

/// An NDJSON answer read line by line, each read bounded by the stall limit.
pub struct Lines {
    body: BodyDataStream<spin_sdk::wasip3::http_compat::IncomingResponseBody>,
    buf: LineBuffer,
    ready: std::collections::VecDeque<Vec<u8>>,
    ended: bool,
    stall: Duration,
}

/// What reading the next line gave.
pub enum Next {
    Line(Vec<u8>),
    End,
    Stalled,
    Failed(String),
}

impl Lines {
    pub fn new(resp: Response, stall: Duration) -> Self {
        Self {
            body: resp.into_body().stream(),
            buf: LineBuffer::default(),
            ready: Default::default(),
            ended: false,
            stall,
        }
    }

    /// Lines already received and not yet returned (so `next` will not wait).
    pub fn has_buffered(&self) -> bool {
        !self.ready.is_empty()
    }

    pub async fn next(&mut self) -> Next {
        loop {
            if let Some(l) = self.ready.pop_front() {
                return Next::Line(l);
            }
            if self.ended {
                return Next::End;
            }
            match within(self.stall, self.body.next()).await {
                None => return Next::Stalled,
                Some(None) => {
                    self.ended = true;
                    self.ready.extend(self.buf.finish());
                }
                Some(Some(Err(e))) => return Next::Failed(format!("{e:?}")),
                Some(Some(Ok(chunk))) => match self.buf.push(&chunk) {
                    Ok(lines) => self.ready.extend(lines),
                    Err(e) => return Next::Failed(e.to_string()),
                },
            }
        }
    }
}
