//! The accept loop every server of this crate runs (the test host, the fake Ollama, the
//! libSQL server): each connection served by hyper on a task of its own, all of them ended
//! with the loop (aborting it drops the `JoinSet`, which aborts every connection task and so
//! drops every response body in flight).

use hyper::body::Incoming;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// How a server treats its connections.
#[derive(Debug, Clone, Copy)]
pub struct Connections {
    /// Set `TCP_NODELAY` on each (Ollama's Go server does; Spin's listener does not).
    pub nodelay: bool,
    /// Speak HTTP/2 as well as HTTP/1.1 (hyper's `auto`), else HTTP/1.1 only.
    pub http2: bool,
}

/// Serves every connection accepted on `listener` with `handle(request, peer)`, until aborted.
pub async fn accept_loop<H, F, B>(listener: TcpListener, how: Connections, handle: H)
where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if how.nodelay {
                        let _ = stream.set_nodelay(true);
                    }
                    let handle = handle.clone();
                    let service = hyper::service::service_fn(move |req| {
                        let answer = handle(req, peer);
                        async move { Ok::<_, Infallible>(answer.await) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    connections.spawn(async move {
                        let _ = if how.http2 {
                            hyper_util::server::conn::auto::Builder::new(
                                hyper_util::rt::TokioExecutor::new(),
                            )
                            .serve_connection(io, service)
                            .await
                        } else {
                            hyper::server::conn::http1::Builder::new()
                                .serve_connection(io, service)
                                .await
                                .map_err(Into::into)
                        };
                    });
                }
                // E.g. out of file descriptors: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
