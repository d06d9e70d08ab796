//! Ollama over outbound HTTP, with the contract's errors: refused or unreachable →
//! `503 OLLAMA_UNAVAILABLE`; no answer within `ollama_timeout_seconds` → `504
//! UPSTREAM_TIMEOUT`; unknown model → `404 MODEL_NOT_FOUND`; any other failure →
//! `502 UPSTREAM_ERROR`. Ollama's own error text is logged, not sent.

use bytes::Bytes;
use chat_core::spin::task;
use chat_core::{Error, ErrorCode};
use futures::StreamExt;
use futures::future::{Either, select};
use http_body_util::BodyDataStream;
use ollama_api::wire::{ChatChunk, ChatLine, LineBuffer, parse_chat_line};
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{EmptyBody, FullBody, Method, Response, StatusCode};
use spin_sdk::wasip3::http::types::ErrorCode as WireError;
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

/// Why a request to one server failed before its answer began, and whether another server
/// may be asked instead (see `crate::servers`).
pub enum Failed {
    /// Refused, unreachable, or not allowed by `allowed_outbound_hosts`.
    Unreachable(Error),
    /// No status line within the limit.
    TimedOut(Error),
    /// A `5xx`.
    ServerError(Error),
    /// `404` for the model: this server does not have it (any more).
    NoModel(Error),
    /// Anything else (a `4xx` the request itself caused): asking elsewhere would not help.
    Refused(Error),
}

impl From<Failed> for Error {
    fn from(f: Failed) -> Error {
        f.error()
    }
}

impl Failed {
    pub fn error(self) -> Error {
        match self {
            Failed::Unreachable(e)
            | Failed::TimedOut(e)
            | Failed::ServerError(e)
            | Failed::NoModel(e)
            | Failed::Refused(e) => e,
        }
    }

    /// The server is at fault (it cools down, and the request moves on).
    pub fn server_at_fault(&self) -> bool {
        matches!(
            self,
            Failed::Unreachable(_) | Failed::TimedOut(_) | Failed::ServerError(_)
        )
    }

    /// What went wrong, in words fit for an admin (no secret, no body).
    pub fn summary(&self) -> &'static str {
        match self {
            Failed::Unreachable(_) => "unreachable",
            Failed::TimedOut(_) => "no answer within the timeout",
            Failed::ServerError(_) => "server error (5xx)",
            Failed::NoModel(_) => "model not found",
            Failed::Refused(_) => "request refused",
        }
    }
}

/// Sends a request to Ollama and waits for its status line (at most `limit`). A status that
/// is not 2xx is a [`Failed`] saying how (`?` turns it into the contract's error; `model`
/// names the model for a 404).
pub async fn attempt(
    base: &str,
    method: Method,
    path: &str,
    body: Option<&serde_json::Value>,
    limit: Duration,
    model: Option<&str>,
) -> Result<Response, Failed> {
    let url = format!("{base}{path}");
    let builder = spin_sdk::http::Request::builder()
        .method(method)
        .uri(&url)
        .header("content-type", "application/json");
    let internal = |e| Failed::Refused(Error::internal("building request").because(e));
    let sent = match body {
        Some(b) => {
            let bytes = Bytes::from(
                serde_json::to_vec(b).map_err(|e| Failed::Refused(Error::internal(e)))?,
            );
            // `Expect: 100-continue` makes Ollama answer the head at once (Go's server and
            // hyper's send `100 Continue` when the handler reads the body), and that answer
            // carries the ACK that Nagle's algorithm waits for before the body may leave on
            // a pooled connection. Without it the body waited for Ollama's delayed ACK:
            // +40 ms to the first token under Spin, whose client keeps Nagle on. The length
            // is stated for the same reason: without it the body goes chunked, and its
            // closing chunk (5 bytes, a write of its own) waited for that ACK in turn.
            let req = builder
                .header("expect", "100-continue")
                .header("content-length", bytes.len())
                .body(FullBody::new(bytes))
                .map_err(internal)?;
            within(limit, task::kick(spin_sdk::http::send(req))).await
        }
        None => {
            let req = builder.body(EmptyBody::new()).map_err(internal)?;
            within(limit, task::kick(spin_sdk::http::send(req))).await
        }
    };
    let resp = match sent {
        None => {
            return Err(Failed::TimedOut(
                timeout().with_cause(format!("no answer from {base}{path}")),
            ));
        }
        Some(Err(WireError::HttpRequestDenied)) => {
            return Err(Failed::Unreachable(unavailable(format!(
                "{base}: not allowed by the component's allowed_outbound_hosts"
            ))));
        }
        Some(Err(e)) => {
            return Err(Failed::Unreachable(unavailable(format!(
                "{base}{path}: {e:?}"
            ))));
        }
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
        (StatusCode::NOT_FOUND, Some(m)) => Failed::NoModel(model_not_found(m).with_cause(text)),
        (s, _) if s.is_server_error() => {
            Failed::ServerError(upstream(format!("{base}{path} answered {status}: {text}")))
        }
        _ => Failed::Refused(upstream(format!("{base}{path} answered {status}: {text}"))),
    })
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

impl Next {
    /// The chunk of `/api/chat` this is, or the failure it means: an error line, a line that is
    /// not a chunk, the stream ending before the final chunk, a stall, a broken read.
    pub fn chunk(self) -> Result<ChatChunk, Error> {
        match self {
            Next::Line(line) => match parse_chat_line(&line) {
                Ok(ChatLine::Chunk(c)) => Ok(c),
                Ok(ChatLine::Error(e)) => Err(upstream(format!("error line: {e}"))),
                Err(e) => Err(upstream(format!("unreadable line: {e}"))),
            },
            Next::End => Err(upstream("stream ended before its final chunk")),
            Next::Stalled => Err(timeout().with_cause("Ollama stalled mid-answer")),
            Next::Failed(e) => Err(upstream(format!("reading stream: {e}"))),
        }
    }
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
