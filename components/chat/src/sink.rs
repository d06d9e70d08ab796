//! Where an answer's events go: the client's server-sent event stream, or nowhere.

use chat_core::Error;
use futures::SinkExt;
use futures::channel::mpsc::Sender;

/// Where events go: the client's SSE stream, or nowhere (`stream: false`).
///
/// Events are queued and written together when the producer is about to wait, so there are
/// as few small writes as possible: Spin's listener leaves Nagle's algorithm on, and a small
/// write that follows an unacknowledged one waits for the client's delayed ACK (up to 40 ms).
/// The first write (`start` with the first token) is made before the handler returns, so it
/// leaves together with the response head. See docs/STREAMING.md.
pub struct Sink {
    tx: Option<Sender<String>>,
    /// The client went away; generation goes on and is stored.
    gone: bool,
    pending: String,
    first_write: Option<futures::channel::oneshot::Sender<Result<(), Error>>>,
}

impl Sink {
    /// Events to `tx`.
    pub fn stream(tx: Sender<String>) -> Self {
        Self {
            tx: Some(tx),
            gone: false,
            pending: String::new(),
            first_write: None,
        }
    }

    /// `Ok(())` goes to `first_write` once the first write is queued.
    pub fn on_first_write(
        mut self,
        first_write: futures::channel::oneshot::Sender<Result<(), Error>>,
    ) -> Self {
        self.first_write = Some(first_write);
        self
    }

    pub fn none() -> Self {
        Self {
            tx: None,
            gone: false,
            pending: String::new(),
            first_write: None,
        }
    }

    /// Adds an event to the next write.
    pub fn queue(&mut self, name: &str, data: &impl serde::Serialize) {
        if self.tx.is_some() && !self.gone {
            self.pending
                .push_str(&chat_core::sse::sse_event(name, data));
        }
    }

    /// Adds an unnamed event (`data: ...` alone, as OpenAI streams) to the next write.
    pub fn queue_data(&mut self, data: &str) {
        if self.tx.is_some() && !self.gone {
            self.pending.push_str("data: ");
            self.pending.push_str(data);
            self.pending.push_str("\n\n");
        }
    }

    /// Writes what is queued.
    pub async fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.pending);
        if let Some(tx) = &mut self.tx
            && tx.send(events).await.is_err()
        {
            self.gone = true;
        }
        if let Some(first) = self.first_write.take() {
            let _ = first.send(Ok(()));
        }
    }

    pub async fn emit(&mut self, name: &str, data: &impl serde::Serialize) {
        self.queue(name, data);
        self.flush().await;
    }

    /// Whether the client went away mid-answer.
    pub fn is_gone(&self) -> bool {
        self.gone
    }

    /// Ends the stream (the client sees the response end).
    pub fn close(&mut self) {
        self.tx = None;
    }
}

/// The `200 text/event-stream` response around a stream body.
pub fn sse_response(body: axum::body::Body) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let mut response = axum::response::Response::new(body);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    // Proxies (nginx and friends) must pass events through as they come.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
