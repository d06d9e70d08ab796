//! The request pipeline every component runs: request id, CORS (preflight too), body-size
//! limit, rate limits (with the caller authenticated once, for the handler to reuse), the
//! component's axum router, errors rendered as the contract's envelope (404 and 405 with
//! `allow` included), security headers, and one log line per request (`request_log`).

use super::extract::RequestContext;
use super::request_log::RequestLine;
use super::{Db, auth, log, metrics, ratelimit, vars};
use crate::auth::principal::Principal;
use crate::config::LogLevel;
use crate::cors::CorsPolicy;
use crate::error::{Error, ErrorCode};
use crate::ratelimit::{Class, Quota, Subject};
use crate::request_id::request_id;
use axum::Router;
use axum::body::Body;
use axum::extract::MatchedPath;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Instant;
use tower_service::Service;

const X_REQUEST_ID: &str = "x-request-id";
/// How much of a refused request's body is read (and dropped) before the refusal is sent. A
/// response sent while the client is still sending is often lost: the server closes the
/// connection with unread data, the client's TCP stack gets a reset, and the client sees a
/// cut connection instead of the 413 or 429. Past this much, the connection is cut anyway.
const DRAIN_BYTES: usize = 8 << 20;
const IMPORT_PATH: &str = "/api/conversations/import";
/// Routes that never touch the database (nor count against a rate limit).
const WITHOUT_DATABASE: [&str; 3] = ["/health", "/info", "/openapi.json"];

/// What the pipeline learned about a request, for its response headers and its log line.
#[derive(Default)]
struct Seen {
    cors: Option<CorsPolicy>,
    quota: Option<Quota>,
    user_id: Option<String>,
}

/// The route pattern a request matched (`/api/conversations/{id}`), copied from axum's
/// [`MatchedPath`] onto the response for the log line.
#[derive(Clone)]
struct MatchedRoute(Arc<str>);

/// Serves one request with the router `routes` builds. `component` names the component in
/// logs.
pub async fn serve(
    req: spin_sdk::http::Request,
    component: &'static str,
    routes: fn() -> Router,
) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let header_str = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let id = request_id(header_str(X_REQUEST_ID).as_deref());
    let origin = header_str(header::ORIGIN.as_str());
    let mut seen = Seen::default();
    // Built once per instance (about a fifth of a small request's time in the guest when it
    // was built per request); a clone shares it.
    static ROUTER: std::sync::OnceLock<Router> = std::sync::OnceLock::new();
    let router = ROUTER
        .get_or_init(|| routes().route_layer(axum::middleware::from_fn(remember_route)))
        .clone();
    let mut response = match handle(req, component, &id, router, &mut seen).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    let error_code = render_error(&mut response, &id, component);
    let headers = response.headers_mut();
    crate::security_headers::apply(headers);
    if let Ok(v) = HeaderValue::from_str(&id) {
        headers.insert(X_REQUEST_ID, v);
    }
    // Counted here, or by the handler (`ratelimit::stamp`). A response refused by a limit of
    // its own (sign-in failures per username) already says where that one stands.
    let quota = seen
        .quota
        .or_else(|| response.extensions().get::<Quota>().copied())
        .filter(|_| !response.headers().contains_key(Quota::LIMIT_HEADER));
    let headers = response.headers_mut();
    if let Some(quota) = quota {
        for (name, value) in quota.headers() {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
    }
    if let Some(policy) = &seen.cors {
        let preflight = method == Method::OPTIONS && response.status() == StatusCode::NO_CONTENT;
        CorsPolicy::apply(policy, origin.as_deref(), preflight, response.headers_mut());
    }
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    metrics::request(crate::metrics::family(&path), status, seconds);
    if method == Method::POST && path == "/api/auth/login" {
        let outcome = error_code.map_or("success".to_string(), |c| c.as_str().to_ascii_lowercase());
        metrics::add(
            crate::metrics::LOGINS,
            crate::metrics::labels(&[("outcome", &outcome)]),
            1.0,
        );
    }
    metrics::flush_soon().await;
    if !log::enabled(LogLevel::Info) {
        return response;
    }
    let line = RequestLine {
        request_id: id,
        component,
        method,
        route: response
            .extensions()
            .get::<MatchedRoute>()
            .map(|r| r.0.clone()),
        path,
        status,
        seconds,
        user_id: seen.user_id,
    };
    response.map(|body| line.after_first_frame(body))
}

async fn remember_route(
    matched: Option<MatchedPath>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(req).await;
    if let Some(m) = matched {
        response
            .extensions_mut()
            .insert(MatchedRoute(Arc::from(m.as_str())));
    }
    response
}

/// Counts the request against its class's limit: `Err(429)` over it. The caller of a
/// user-limited class is authenticated here (and handed to the handler through the request's
/// extensions); a missing or bad credential counts against the client's IP instead, and the
/// handler answers `401` as usual. A signed-in caller's request to ask the model is counted
/// by its handler instead (the [`ratelimit::Pending`] returned, see there).
async fn rate_limit(
    parts: &mut http::request::Parts,
    config: &crate::config::Config,
    client_ip: Option<&str>,
    seen: &mut Seen,
    warm: futures::channel::oneshot::Receiver<()>,
) -> Result<Option<ratelimit::Pending>, Error> {
    let Some(class) = crate::ratelimit::classify(&parts.method, parts.uri.path()) else {
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
    let limit = config.rate_limits.of(class);
    let subject = Subject::of(class, principal.as_ref(), client_ip);
    let signed_in = principal.is_some();
    if let Some(p) = principal {
        parts.extensions.insert::<Principal>(p);
    }
    if limit == 0 {
        return Ok(None);
    }
    if class == Class::Chat && signed_in {
        return Ok(Some(ratelimit::Pending {
            class,
            key: subject.key(class),
            limit,
            window: config.rate_limits.window_seconds,
        }));
    }
    let (key, window, now) = (
        subject.key(class),
        config.rate_limits.window_seconds,
        auth::now_unix(),
    );
    // The connection a new instance is opening (see `handle`), rather than a second one.
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

/// What the pipeline makes of a request before routing: an answer already (a preflight), or
/// the request to route.
enum Prepared {
    Answer(Response),
    Route(http::Request<Body>),
}

async fn handle(
    req: spin_sdk::http::Request,
    component: &'static str,
    id: &str,
    mut router: Router,
    seen: &mut Seen,
) -> Result<Response, Error> {
    // A new instance opens its first database connection while the pipeline reads variables
    // and checks the caller (both first-time work too); the rate limit's count waits for it.
    let warm = (req.method() != Method::OPTIONS && !WITHOUT_DATABASE.contains(&req.uri().path()))
        .then(Db::prewarm)
        .flatten();
    let (warmed, is_warm) = futures::channel::oneshot::channel::<()>();
    let warm = async move {
        if let Some(w) = warm {
            w.await;
        }
        let _ = warmed.send(());
    };
    let ((), prepared) = futures::join!(warm, prepare(req, component, id, seen, is_warm));
    let req = match prepared? {
        Prepared::Answer(r) => return Ok(r),
        Prepared::Route(req) => req,
    };
    let response = match router.call(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    Ok(response)
}

/// CORS preflight, rate limit (authenticating the caller), body limit and JSON syntax, and
/// the request context for the handler.
async fn prepare(
    req: spin_sdk::http::Request,
    component: &'static str,
    id: &str,
    seen: &mut Seen,
    warm: futures::channel::oneshot::Receiver<()>,
) -> Result<Prepared, Error> {
    let config = vars::config().await?;
    seen.cors = Some(config.cors.clone());
    log::set_level(config.log_level);
    metrics::set_enabled(config.metrics);
    let (mut parts, body) = req.into_parts();
    if CorsPolicy::is_preflight(&parts.method, &parts.headers) {
        let origin = parts
            .headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !config.cors.allows(origin) {
            return Err(Error::new(
                ErrorCode::Forbidden,
                "This origin is not allowed to call the API.",
            ));
        }
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        return Ok(Prepared::Answer(r));
    }
    let client_ip = crate::client_addr::client_addr(
        parts
            .headers
            .get("spin-client-addr")
            .and_then(|v| v.to_str().ok()),
        parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok()),
        &config.trusted_proxies,
    );
    let pending_count =
        match rate_limit(&mut parts, &config, client_ip.as_deref(), seen, warm).await {
            Ok(p) => p,
            Err(e) => {
                drain(body, DRAIN_BYTES).await;
                return Err(e);
            }
        };
    // Import takes a whole export, so it has its own, larger limit.
    let limit = if parts.method == Method::POST && parts.uri.path() == IMPORT_PATH {
        config.import_limit_bytes
    } else {
        config.body_limit_bytes
    };
    let too_large = || {
        Error::new(
            ErrorCode::PayloadTooLarge,
            format!("The body is larger than the limit of {limit} bytes."),
        )
        .detail("limit_bytes", limit)
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
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
    // Every route takes JSON: a body must say so and must parse (its shape is checked by the
    // route's own extractor).
    if !bytes.is_empty() {
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !crate::json::is_json_content_type(content_type) {
            return Err(crate::json::unsupported_media_type());
        }
        crate::json::check_syntax(&bytes)?;
    }
    let header_str = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let context = RequestContext {
        request_id: id.to_string(),
        config,
        component,
        client_ip,
        full_url: header_str("spin-full-url"),
        rate_limit: pending_count,
    };
    parts.extensions.insert(context);
    Ok(Prepared::Route(http::Request::from_parts(
        parts,
        Body::from(bytes),
    )))
}

/// The body, or `None` when it is longer than `limit` (then the rest is read and dropped, up
/// to [`DRAIN_BYTES`] in all, so that the client hears the 413).
async fn read_body<B>(body: B, limit: usize) -> Result<Option<bytes::Bytes>, String>
where
    B: http_body::Body<Data = bytes::Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
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
async fn drain<B>(mut body: B, bound: usize)
where
    B: http_body::Body + Unpin,
{
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

/// Writes the envelope for error responses: ours (an [`Error`] in the extensions) and axum's
/// own 404/405, which keep their `allow` header.
fn render_error(response: &mut Response, id: &str, component: &'static str) -> Option<ErrorCode> {
    let error = match response.extensions_mut().remove::<Arc<Error>>() {
        Some(e) => e,
        None => match response.status() {
            StatusCode::NOT_FOUND => Arc::new(Error::from(ErrorCode::NotFound)),
            StatusCode::METHOD_NOT_ALLOWED => Arc::new(Error::from(ErrorCode::MethodNotAllowed)),
            _ => return None,
        },
    };
    if let Some(cause) = error.internal_cause() {
        // A server failure is the operator's business; a client's (an unknown model, say)
        // only when debugging.
        let level = if error.status().is_server_error() {
            LogLevel::Error
        } else {
            LogLevel::Debug
        };
        log::failure(level, id, component, error.message(), cause);
    }
    *response.body_mut() = Body::from(error.envelope(id).to_string());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.remove(header::CONTENT_LENGTH);
    if error.code() == ErrorCode::Unauthenticated {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    Some(error.code())
}

/// The catch-all for unknown routes inside a component.
pub async fn not_found() -> Error {
    Error::from(ErrorCode::NotFound)
}
