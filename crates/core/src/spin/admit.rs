//! The part of the request pipeline that runs once the router has matched a route, under the
//! route's [`Policy`]: CORS preflight, rate limit (with the caller authenticated once, for the
//! handler to reuse), body limit and JSON syntax, and the [`RequestContext`] for the handler.
//! What it learns for the response (quota, CORS policy, user, metrics family) goes back to
//! `serve` as a [`Seen`] in the response's extensions.

use super::extract::RequestContext;
use super::{Db, auth, log, metrics, ratelimit, vars};
use crate::auth::principal::Principal;
use crate::cors::CorsPolicy;
use crate::error::{Error, ErrorCode};
use crate::policy::{BodyKind, Policy};
use crate::ratelimit::{Class, Quota, Subject};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode, header};
use http_body_util::BodyExt;

/// How much of a refused request's body is read (and dropped) before the refusal is sent. A
/// response sent while the client is still sending is often lost: the server closes the
/// connection with unread data, the client's TCP stack gets a reset, and the client sees a
/// cut connection instead of the 413 or 429. Past this much, the connection is cut anyway.
const DRAIN_BYTES: usize = 8 << 20;

/// What `serve` puts on every request before routing.
#[derive(Clone)]
pub(super) struct Incoming {
    pub request_id: String,
    pub component: &'static str,
}

/// What admission learned about a request, for its response headers and its log line.
#[derive(Clone, Default)]
pub(super) struct Seen {
    pub cors: Option<CorsPolicy>,
    pub quota: Option<Quota>,
    pub user_id: Option<String>,
    pub policy: Option<Policy>,
}

/// The route's middleware (see `routes`): admits the request under `policy`, or answers it.
pub(super) async fn admit(State(policy): State<Policy>, req: Request, next: Next) -> Response {
    let mut seen = Seen {
        policy: Some(policy),
        ..Seen::default()
    };
    let mut response = match admitted(policy, req, &mut seen).await {
        Ok(Prepared::Route(req)) => next.run(req).await,
        Ok(Prepared::Answer(r)) => r,
        Err(e) => e.into_response(),
    };
    response.extensions_mut().insert(seen);
    response
}

/// What admission makes of a request: an answer already (a preflight), or the request to
/// hand to the route.
enum Prepared {
    Answer(Response),
    Route(Request),
}

async fn admitted(policy: Policy, req: Request, seen: &mut Seen) -> Result<Prepared, Error> {
    // A new instance opens its first database connection while the pipeline reads variables
    // and checks the caller (both first-time work too); the rate limit's count waits for it.
    let warm = (req.method() != Method::OPTIONS && policy.opens_database())
        .then(Db::prewarm)
        .flatten();
    let (warmed, is_warm) = futures::channel::oneshot::channel::<()>();
    let warm = async move {
        if let Some(w) = warm {
            w.await;
        }
        let _ = warmed.send(());
    };
    let ((), prepared) = futures::join!(warm, prepare(policy, req, seen, is_warm));
    prepared
}

/// CORS preflight, rate limit (authenticating the caller), body limit and JSON syntax, and
/// the request context for the handler.
async fn prepare(
    policy: Policy,
    req: Request,
    seen: &mut Seen,
    warm: futures::channel::oneshot::Receiver<()>,
) -> Result<Prepared, Error> {
    let config = vars::config().await?;
    seen.cors = Some(config.cors.clone());
    log::set_level(config.log_level);
    metrics::set_enabled(config.metrics);
    let (mut parts, body) = req.into_parts();
    let incoming = parts
        .extensions
        .remove::<Incoming>()
        .ok_or_else(|| Error::internal("request not from serve"))?;
    if CorsPolicy::is_preflight(&parts.method, &parts.headers) {
        return preflight(&config.cors, &parts.headers).map(Prepared::Answer);
    }
    let client_ip = crate::client_addr::client_addr(
        header_str(&parts.headers, "spin-client-addr").as_deref(),
        parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok()),
        &config.trusted_proxies,
    );
    let limited = RateLimit {
        config: &config,
        client_ip: client_ip.as_deref(),
        warm,
    };
    let pending_count = match limited.count(policy, &mut parts, seen).await {
        Ok(p) => p,
        Err(e) => {
            drain(body, DRAIN_BYTES).await;
            return Err(e);
        }
    };
    let limit = policy.body_limit(&config);
    let bytes = read_body_of(&parts, body, &policy, limit).await?;
    let context = RequestContext {
        request_id: incoming.request_id,
        config,
        component: incoming.component,
        client_ip,
        full_url: header_str(&parts.headers, "spin-full-url"),
        rate_limit: pending_count,
    };
    parts.extensions.insert(context);
    Ok(Prepared::Route(Request::from_parts(
        parts,
        Body::from(bytes),
    )))
}

fn header_str(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The answer to a CORS preflight: `204`, or `403` for an origin not allowed.
fn preflight(cors: &CorsPolicy, headers: &http::HeaderMap) -> Result<Response, Error> {
    let origin = header_str(headers, header::ORIGIN.as_str()).unwrap_or_default();
    if !cors.allows(&origin) {
        return Err(Error::new(
            ErrorCode::Forbidden,
            "This origin is not allowed to call the API.",
        ));
    }
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    Ok(r)
}

/// The body, read whole: `413` past the route's limit (declared or read); a non-empty body
/// must be of the route's kind (`Policy::body_kind`), and JSON must parse (its shape is
/// checked by the route's own extractor).
async fn read_body_of(
    parts: &http::request::Parts,
    body: Body,
    policy: &Policy,
    limit: usize,
) -> Result<bytes::Bytes, Error> {
    let too_large = || {
        Error::new(
            ErrorCode::PayloadTooLarge,
            format!("The body is larger than the limit of {limit} bytes."),
        )
        .detail("limit_bytes", limit)
    };
    let declared = header_str(&parts.headers, header::CONTENT_LENGTH.as_str())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        drain(body, DRAIN_BYTES).await;
        return Err(too_large());
    }
    let bytes = match read_body(body, limit).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Err(too_large()),
        Err(cause) => {
            return Err(Error::new(
                ErrorCode::InvalidJson,
                "The request body could not be read.",
            )
            .with_cause(cause));
        }
    };
    if !bytes.is_empty() {
        let content_type = header_str(&parts.headers, header::CONTENT_TYPE.as_str());
        let kind = policy.body_kind();
        kind.admits(content_type.as_deref())?;
        if kind == BodyKind::Json {
            crate::json::check_syntax(&bytes)?;
        }
    }
    Ok(bytes)
}

/// What counting a request against its rate limit needs besides the request.
struct RateLimit<'a> {
    config: &'a crate::config::Config,
    client_ip: Option<&'a str>,
    /// Resolved once a new instance's first connection is open (see [`admitted`]).
    warm: futures::channel::oneshot::Receiver<()>,
}

impl RateLimit<'_> {
    /// Counts the request against its class's limit: `Err(429)` over it. The caller of a
    /// user-limited class is authenticated here (and handed to the handler through the
    /// request's extensions); a missing or bad credential counts against the client's IP
    /// instead, and the handler answers `401` as usual. A signed-in caller's request to ask
    /// the model is counted by its handler instead (the [`ratelimit::Pending`] returned).
    async fn count(
        self,
        policy: Policy,
        parts: &mut http::request::Parts,
        seen: &mut Seen,
    ) -> Result<Option<ratelimit::Pending>, Error> {
        let Some(class) = policy.limit(&parts.method) else {
            return Ok(None);
        };
        let principal = if class != Class::Auth && auth::has_credentials(&parts.headers) {
            auth::authenticate(&parts.method, &parts.headers).await.ok()
        } else {
            None
        };
        if let Some(p) = &principal {
            seen.user_id = Some(p.user_id.clone());
        }
        let limits = &self.config.rate_limits;
        let limit = limits.of(class);
        let subject = Subject::of(class, principal.as_ref(), self.client_ip);
        let signed_in = principal.is_some();
        if let Some(p) = principal {
            parts.extensions.insert::<Principal>(p);
        }
        if limit == 0 {
            return Ok(None);
        }
        let (key, window) = (subject.key(class), limits.window_seconds);
        if class == Class::Chat && signed_in {
            return Ok(Some(ratelimit::Pending {
                class,
                key,
                limit,
                window,
            }));
        }
        let now = auth::now_unix();
        // The connection a new instance is opening (see `admitted`), rather than a second one.
        let warm = self.warm;
        let open = async || {
            let _ = warm.await;
            Db::open().await
        };
        let counted = match class {
            // Most general requests count from a block added earlier, without a write.
            Class::General => ratelimit::try_count_leased(open, &key, limit, window, now).await,
            _ => ratelimit::try_count(&open().await?, &key, limit, window, now).await,
        };
        let Some(quota) = counted else {
            return Ok(None);
        };
        seen.quota = Some(quota);
        quota.enforce(class).map(|_| None)
    }
}

/// The body, or `None` when it is longer than `limit` (then the rest is read and dropped, up
/// to [`DRAIN_BYTES`] in all, so that the client hears the 413).
async fn read_body(body: Body, limit: usize) -> Result<Option<bytes::Bytes>, String> {
    let mut body = body;
    let mut kept = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| e.to_string())?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        seen = seen.saturating_add(data.len());
        if seen > limit {
            drain(body, DRAIN_BYTES.saturating_sub(seen)).await;
            return Ok(None);
        }
        kept.extend_from_slice(&data);
    }
    Ok(Some(kept.freeze()))
}

/// Reads and drops what is left of a body, up to `bound` bytes.
async fn drain(mut body: Body, bound: usize) {
    let mut left = bound;
    while left > 0 {
        let Some(Ok(frame)) = body.frame().await else {
            return;
        };
        if let Some(data) = frame.data_ref() {
            left = left.saturating_sub(bytes::Buf::remaining(data));
        }
    }
}
