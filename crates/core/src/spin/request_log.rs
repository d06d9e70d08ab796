//! The one log line per request, written once the response's first bytes are on their way:
//! building and writing it took about 80 µs, and before, every response (an answer's first
//! token too) waited for it.
//!
//! The line is written by the response body, when the body is polled again after its first
//! frame (for an event stream, before its next event; for a whole body, before its end), at
//! its end if it has no frame, or when it is dropped (the client left): the body is polled by
//! the task that sends it, which surely runs, whereas a task spawned as the handler returns
//! might not be polled until some later event.

use super::log;
use crate::config::LogLevel;
use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use serde_json::{Map, Value};
use std::pin::Pin;
use std::task::{Context, Poll};

/// What a request's line says.
pub struct RequestLine {
    pub request_id: String,
    pub component: &'static str,
    pub method: http::Method,
    /// The pattern the request matched (`/api/conversations/{id}`), if one did.
    pub route: Option<std::sync::Arc<str>>,
    /// The raw path, logged only when no route matched: a path can hold a secret (the token
    /// of `/api/shared/{token}`).
    pub path: String,
    pub status: u16,
    pub seconds: f64,
    pub user_id: Option<String>,
}

impl RequestLine {
    fn write(self) {
        let mut f = Map::new();
        f.insert("request_id".into(), Value::from(self.request_id));
        f.insert("component".into(), Value::from(self.component));
        f.insert("method".into(), Value::from(self.method.as_str()));
        match self.route {
            Some(r) => {
                f.insert("route".into(), Value::from(&*r));
            }
            None => {
                f.insert("path".into(), Value::from(self.path));
                f.insert("route".into(), Value::Null);
            }
        }
        f.insert("status".into(), Value::from(self.status));
        f.insert("duration_ms".into(), Value::from(self.seconds * 1000.0));
        f.insert(
            "user_id".into(),
            self.user_id.map(Value::from).unwrap_or(Value::Null),
        );
        log::line(LogLevel::Info, f);
    }

    /// `body`, writing this line once its first frame has gone (see the module's doc).
    pub fn after_first_frame(self, body: Body) -> Body {
        Body::new(LoggedBody {
            inner: body,
            sent_frame: false,
            line: Some(self),
        })
    }
}

struct LoggedBody {
    inner: Body,
    sent_frame: bool,
    line: Option<RequestLine>,
}

impl LoggedBody {
    fn write_line(&mut self) {
        if let Some(line) = self.line.take() {
            line.write();
        }
    }
}

impl http_body::Body for LoggedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if self.sent_frame {
            self.write_line();
        }
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(_)) => self.sent_frame = true,
            Poll::Ready(None) => self.write_line(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        self.write_line();
    }
}
