//! Outbound HTTP for components, restricted to their `allowed_outbound_hosts` as Spin does:
//! each entry is `scheme://host[:port]`, where scheme, host and port may be `*`, a host may start
//! with `*.`, and a missing port means the scheme's default. Anything else is refused with
//! `HttpRequestDenied` before a connection is made. Requests go through one client for the
//! whole app that keeps connections open for reuse, as Spin's does.

use anyhow::{Result, bail};
use bytes::Bytes;
use http::Uri;
use http_body_util::{BodyExt, combinators::UnsyncBoxBody};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use wasmtime_wasi_http::p3::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::p3::{RequestOptions, WasiHttpHooks};

#[derive(Debug, Clone, PartialEq)]
pub struct AllowedHost {
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq)]
enum HostPattern {
    Any,
    Exact(String),
    /// `*.example.com` matches any subdomain of example.com.
    Suffix(String),
}

#[derive(Debug, Clone, PartialEq)]
enum PortPattern {
    Any,
    Default,
    Exact(u16),
}

/// A component's `allowed_outbound_hosts`, each entry resolved by `resolve` (its variables), as
/// Spin resolves them (crates/outbound-networking-config): an entry is one host, whatever its
/// variables hold (a comma-separated list is not split, and fails to parse); an entry with
/// variables that resolves to nothing (`""`, `http://`, `https://`) is skipped, an optional
/// endpoint; a literal entry must be a host; `insecure:allow-all` alone is refused.
pub fn allowed_hosts(
    entries: &[String],
    resolve: impl Fn(&str) -> Result<String>,
) -> Result<Vec<AllowedHost>> {
    if let [only] = entries
        && only == "insecure:allow-all"
    {
        bail!("'insecure:allow-all' is not allowed - use '*://*:*' to allow all outbound traffic");
    }
    let mut allowed = Vec::new();
    for entry in entries {
        let resolved = resolve(entry)?;
        let templated = entry.contains("{{");
        if templated && matches!(resolved.as_str(), "" | "http://" | "https://") {
            continue;
        }
        allowed.push(AllowedHost::parse(&resolved)?);
    }
    Ok(allowed)
}

impl AllowedHost {
    pub fn parse(entry: &str) -> Result<Self> {
        let Some((scheme, rest)) = entry.split_once("://") else {
            bail!("allowed outbound host {entry:?} must have a scheme (e.g. http://)");
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') {
            bail!("allowed outbound host {entry:?} must not have a path");
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => (h, Some(p)),
            _ => (rest, None),
        };
        let host = match host {
            "*" => HostPattern::Any,
            h if h.starts_with("*.") => HostPattern::Suffix(h[1..].to_ascii_lowercase()),
            "" => bail!("allowed outbound host {entry:?} has no host"),
            h => HostPattern::Exact(h.to_ascii_lowercase()),
        };
        let port = match port {
            None => PortPattern::Default,
            Some("*") => PortPattern::Any,
            Some(p) => PortPattern::Exact(
                p.parse()
                    .map_err(|_| anyhow::anyhow!("bad port in allowed host {entry:?}"))?,
            ),
        };
        let scheme = match scheme {
            "*" => None,
            s => Some(s.to_ascii_lowercase()),
        };
        Ok(Self { scheme, host, port })
    }

    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let scheme = scheme.to_ascii_lowercase();
        if let Some(s) = &self.scheme
            && *s != scheme
        {
            return false;
        }
        let host = host.to_ascii_lowercase();
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(h) => *h == host,
            HostPattern::Suffix(suffix) => host.ends_with(suffix.as_str()),
        };
        let port = port.or(default_port(&scheme));
        let port_ok = match self.port {
            PortPattern::Any => true,
            PortPattern::Exact(p) => port == Some(p),
            PortPattern::Default => port.is_some() && port == default_port(&scheme),
        };
        host_ok && port_ok
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// The app's outbound HTTP client, shared by every instance of every component, as Spin's
/// `HttpClients` (factor-outbound-http `wasi.rs`): a hyper-util client whose idle connections
/// are kept and reused unless `[outbound_http] connection_pooling` turns that off.
#[derive(Clone)]
pub struct OutboundClient {
    client: Client<Connector, UnsyncBoxBody<Bytes, ErrorCode>>,
}

impl OutboundClient {
    pub fn new(pooling: bool) -> Self {
        let mut builder = Client::builder(TokioExecutor::new());
        if !pooling {
            builder.pool_max_idle_per_host(0);
        }
        Self {
            client: builder.build(Connector),
        }
    }
}

/// Spin's default for each of the three request timeouts the guest leaves unset.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

tokio::task_local! {
    /// The connect timeout of the request that opens a connection (as Spin passes its connect
    /// options: the client's connector takes no per-request arguments).
    static CONNECT_TIMEOUT: Duration;
}

/// Opens plain TCP connections, with Spin's errors: refused, timed out, or no address.
#[derive(Clone)]
struct Connector;

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<TcpStream>;
    type Error = ErrorCode;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, ErrorCode>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ErrorCode>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let limit = CONNECT_TIMEOUT.try_with(|t| *t).unwrap_or(DEFAULT_TIMEOUT);
        crate::trace::event(|| format!("outbound connect {uri}"));
        Box::pin(async move {
            let authority = uri.authority().ok_or(ErrorCode::HttpRequestUriInvalid)?;
            let target = match authority.port() {
                Some(_) => authority.to_string(),
                None => format!("{authority}:80"),
            };
            match tokio::time::timeout(limit, TcpStream::connect(target)).await {
                Err(_) => Err(ErrorCode::ConnectionTimeout),
                // As Spin's connector: no socket options, so Nagle's algorithm stays on.
                Ok(Ok(stream)) => Ok(TokioIo::new(stream)),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::AddrNotAvailable => Err(dns_error()),
                Ok(Err(e)) if e.to_string().starts_with("failed to lookup address") => {
                    Err(dns_error())
                }
                Ok(Err(_)) => Err(ErrorCode::ConnectionRefused),
            }
        })
    }
}

fn dns_error() -> ErrorCode {
    ErrorCode::DnsError(
        wasmtime_wasi_http::p3::bindings::http::types::DnsErrorPayload {
            rcode: Some("address not available".into()),
            info_code: Some(0),
        },
    )
}

/// A connector's error inside hyper-util's, or a protocol error (as Spin maps them).
fn request_error(e: hyper_util::client::legacy::Error) -> ErrorCode {
    use std::error::Error as _;
    e.source()
        .and_then(|c| c.downcast_ref::<ErrorCode>())
        .cloned()
        .unwrap_or(ErrorCode::HttpProtocolError)
}

fn response_error(e: hyper::Error) -> ErrorCode {
    use std::error::Error as _;
    if e.is_timeout() {
        return ErrorCode::HttpResponseTimeout;
    }
    e.source()
        .and_then(|c| c.downcast_ref::<ErrorCode>())
        .cloned()
        .unwrap_or(ErrorCode::HttpProtocolError)
}

/// The hooks wasmtime-wasi-http calls for each outgoing request of one component instance.
pub struct OutboundHooks {
    pub component: String,
    pub allowed: Arc<Vec<AllowedHost>>,
    pub client: OutboundClient,
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        mut request: http::Request<UnsyncBoxBody<Bytes, ErrorCode>>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), ErrorCode>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<UnsyncBoxBody<Bytes, ErrorCode>>,
                        Box<dyn Future<Output = Result<(), ErrorCode>> + Send>,
                    ),
                    wasmtime_wasi::TrappableError<ErrorCode>,
                >,
            > + Send,
    > {
        drop(fut);
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("http").to_string();
        let host = uri.host().unwrap_or_default().to_string();
        let port = uri.port_u16();
        let allowed = self.allowed.iter().any(|a| a.allows(&scheme, &host, port));
        if !allowed {
            eprintln!(
                "spin-test-host: component {:?} may not reach {scheme}://{host}{}: not in allowed_outbound_hosts",
                self.component,
                port.map(|p| format!(":{p}")).unwrap_or_default()
            );
            return Box::new(async { Err(ErrorCode::HttpRequestDenied.into()) });
        }
        if scheme != "http" {
            // TLS: wasmtime's own sender, a connection per request (Spin pools these too).
            return Box::new(async move {
                let (res, io) =
                    wasmtime_wasi_http::p3::default_send_request(request, options).await?;
                let io = tokio::spawn(io);
                let done = async move { io.await.unwrap_or(Ok(())) };
                Ok((
                    res.map(BodyExt::boxed_unsync),
                    Box::new(done) as Box<dyn Future<Output = Result<(), ErrorCode>> + Send>,
                ))
            });
        }
        let option = |pick: fn(&RequestOptions) -> Option<Duration>| {
            options.as_ref().and_then(pick).unwrap_or(DEFAULT_TIMEOUT)
        };
        let connect = option(|o| o.connect_timeout);
        let first_byte = option(|o| o.first_byte_timeout);
        let between_bytes = option(|o| o.between_bytes_timeout);
        // As Spin: the client sets `host` from the URI.
        request.headers_mut().remove(http::header::HOST);
        let what = format!("{} {}", request.method(), request.uri());
        crate::trace::event(|| format!("outbound begin {what}"));
        let client = self.client.client.clone();
        Box::new(async move {
            let sent = CONNECT_TIMEOUT.scope(connect, client.request(request));
            let res = tokio::time::timeout(first_byte, sent)
                .await
                .map_err(|_| ErrorCode::ConnectionReadTimeout)?
                .map_err(request_error)?;
            crate::trace::event(|| format!("outbound head {what}: {}", res.status()));
            let res = res.map(|body| {
                BetweenBytes {
                    body: Some(body),
                    sleep: None,
                    limit: between_bytes,
                }
                .boxed_unsync()
            });
            // The client drives its connections on tasks of its own, as in Spin.
            let done = async { Ok(()) };
            Ok((
                res,
                Box::new(done) as Box<dyn Future<Output = Result<(), ErrorCode>> + Send>,
            ))
        })
    }
}

/// A response body that fails with `ConnectionReadTimeout` when no frame comes for `limit`,
/// dropping the connection at once (Spin's `BetweenBytesTimeoutBody`).
struct BetweenBytes {
    body: Option<hyper::body::Incoming>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    limit: Duration,
}

impl http_body::Body for BetweenBytes {
    type Data = Bytes;
    type Error = ErrorCode;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, ErrorCode>>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(body).poll_frame(cx) {
            Poll::Ready(frame) => {
                self.sleep = None;
                Poll::Ready(frame.map(|f| f.map_err(response_error)))
            }
            Poll::Pending => {
                let limit = self.limit;
                let sleep = self
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                std::task::ready!(sleep.as_mut().poll(cx));
                self.body = None;
                Poll::Ready(Some(Err(ErrorCode::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(entry: &str, scheme: &str, host: &str, port: Option<u16>) -> bool {
        AllowedHost::parse(entry)
            .map(|a| a.allows(scheme, host, port))
            .unwrap_or(false)
    }

    #[test]
    fn entries_resolve_as_spins_do() {
        let vars = |entry: &str| -> Result<String> {
            Ok(match entry {
                "{{ ollama_url }}" => "http://127.0.0.1:11434".into(),
                "{{ spare }}" => String::new(),
                "http://{{ spare }}" => "http://".into(),
                "{{ both }}" => "http://a:1,http://b:2".into(),
                other => other.into(),
            })
        };
        let list = |e: &[&str]| e.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ok = allowed_hosts(
            &list(&["{{ ollama_url }}", "{{ spare }}", "http://{{ spare }}"]),
            vars,
        );
        let ok = ok.unwrap_or_default();
        assert_eq!(ok.len(), 1, "empty optional endpoints are skipped");
        assert!(ok[0].allows("http", "127.0.0.1", Some(11434)));
        assert!(
            allowed_hosts(&list(&["{{ both }}"]), vars).is_err(),
            "one entry is one host"
        );
        assert!(
            allowed_hosts(&list(&[""]), vars).is_err(),
            "a literal must be a host"
        );
        assert!(allowed_hosts(&list(&["insecure:allow-all"]), vars).is_err());
    }

    #[test]
    fn exact_host_and_port() {
        assert!(allows(
            "http://127.0.0.1:11434",
            "http",
            "127.0.0.1",
            Some(11434)
        ));
        assert!(!allows(
            "http://127.0.0.1:11434",
            "http",
            "127.0.0.1",
            Some(11435)
        ));
        assert!(!allows(
            "http://127.0.0.1:11434",
            "https",
            "127.0.0.1",
            Some(11434)
        ));
        assert!(!allows(
            "http://127.0.0.1:11434",
            "http",
            "localhost",
            Some(11434)
        ));
    }

    #[test]
    fn default_ports_and_wildcards() {
        assert!(allows("https://example.com", "https", "example.com", None));
        assert!(allows(
            "https://example.com",
            "https",
            "example.com",
            Some(443)
        ));
        assert!(!allows(
            "https://example.com",
            "https",
            "example.com",
            Some(8443)
        ));
        assert!(allows(
            "https://*.example.com",
            "https",
            "a.example.com",
            None
        ));
        assert!(!allows(
            "https://*.example.com",
            "https",
            "example.org",
            None
        ));
        assert!(allows("*://*:*", "http", "anything", Some(1)));
        assert!(allows("http://localhost:*", "http", "localhost", Some(9)));
    }

    #[test]
    fn malformed_entries_are_rejected() {
        for bad in [
            "127.0.0.1:11434",
            "http://",
            "http://h/path",
            "http://h:port",
        ] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad}");
        }
    }
}
