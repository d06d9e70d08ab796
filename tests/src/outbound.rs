//! Outbound HTTP for components, restricted to their `allowed_outbound_hosts` as Spin does:
//! each entry is `scheme://host[:port]`, where scheme, host and port may be `*`, a host may start
//! with `*.`, and a missing port means the scheme's default. Anything else is refused with
//! `HttpRequestDenied` before a connection is made.

use anyhow::{Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, combinators::UnsyncBoxBody};
use std::sync::Arc;
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

/// The hooks wasmtime-wasi-http calls for each outgoing request of one component instance.
pub struct OutboundHooks {
    pub component: String,
    pub allowed: Arc<Vec<AllowedHost>>,
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<UnsyncBoxBody<Bytes, ErrorCode>>,
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
        Box::new(async move {
            let (res, io) = wasmtime_wasi_http::p3::default_send_request(request, options).await?;
            // Drive the connection on its own task, as Spin's pooled hyper client does: left
            // to the store's event loop, a chunk that arrived with the headers waits for the
            // next socket event (one chunk interval late).
            let io = tokio::spawn(io);
            let done = async move { io.await.unwrap_or(Ok(())) };
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(done) as Box<dyn Future<Output = Result<(), ErrorCode>> + Send>,
            ))
        })
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
