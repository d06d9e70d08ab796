//! The request pipeline every component runs: request id, the component's routes (each first
//! admitted under its policy: CORS preflight, rate limit, body limit, see `admit`), errors
//! rendered as the contract's envelope (404 and 405 with `allow` included), security headers,
//! CORS headers, metrics, and one log line per request (`request_log`).

use super::admit::{Incoming, Seen};
use super::request_log::RequestLine;
use super::routes::{MatchedRoute, Routes};
use super::{log, metrics};
use crate::config::LogLevel;
use crate::cors::CorsPolicy;
use crate::error::{Error, ErrorCode};
use crate::policy::{ErrorStyle, Policy};
use crate::ratelimit::Quota;
use crate::request_id::request_id;
use axum::Router;
use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};
use std::sync::Arc;
use std::time::Instant;
use tower_service::Service;

const X_REQUEST_ID: &str = "x-request-id";

/// Serves one request with the routes `routes` declares. `component` names the component in
/// logs.
pub async fn serve(
    req: spin_sdk::http::Request,
    component: &'static str,
    routes: fn() -> Routes,
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
    // Built once per instance (about a fifth of a small request's time in the guest when it
    // was built per request); a clone shares it.
    static ROUTER: std::sync::OnceLock<Router> = std::sync::OnceLock::new();
    let mut router = ROUTER.get_or_init(|| routes().into_router()).clone();
    let mut req = req.map(Body::new);
    req.extensions_mut().insert(Incoming {
        request_id: id.clone(),
        component,
    });
    let mut response = match router.call(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let seen = response
        .extensions_mut()
        .remove::<Seen>()
        .unwrap_or_default();
    let style = seen
        .policy
        .map_or(ErrorStyle::Envelope, |p| p.error_style());
    let error_code = render_error(&mut response, &id, component, style);
    add_headers(&mut response, &seen, &id, &method, origin.as_deref());
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    count(
        seen.policy.unwrap_or(Policy::FALLBACK),
        status,
        seconds,
        error_code,
    );
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

/// Security headers, the request id, where the caller stands with its rate limit, CORS.
fn add_headers(
    response: &mut Response,
    seen: &Seen,
    id: &str,
    method: &Method,
    origin: Option<&str>,
) {
    let headers = response.headers_mut();
    let kind = seen.policy.unwrap_or(Policy::FALLBACK).response_headers();
    crate::security_headers::apply(headers, kind);
    if let Ok(v) = HeaderValue::from_str(id) {
        headers.insert(X_REQUEST_ID, v);
    }
    // Counted by admission, or by the handler (`ratelimit::stamp`). A response refused by a
    // limit of its own (sign-in failures per username) already says where that one stands.
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
        CorsPolicy::apply(policy, origin, preflight, response.headers_mut());
    }
}

/// Counts the request in its route's family, and its outcome where the route asks for that.
fn count(policy: Policy, status: u16, seconds: f64, error_code: Option<ErrorCode>) {
    metrics::request(policy.family(), status, seconds);
    if let Some(metric) = policy.outcomes() {
        let outcome = error_code.map_or("success".to_string(), |c| c.as_str().to_ascii_lowercase());
        let labels = crate::metrics::labels(&[("outcome", &outcome)]);
        metrics::add(metric, labels, 1.0);
    }
}

/// Writes the envelope (OpenAI's shape on `/v1`) for error responses: ours (an [`Error`] in
/// the extensions) and axum's own 404/405, which keep their `allow` header.
fn render_error(
    response: &mut Response,
    id: &str,
    component: &'static str,
    style: ErrorStyle,
) -> Option<ErrorCode> {
    let error = match response.extensions_mut().remove::<Arc<Error>>() {
        Some(e) => e,
        None => match response.status() {
            StatusCode::NOT_FOUND => Arc::new(Error::from(ErrorCode::NotFound)),
            StatusCode::METHOD_NOT_ALLOWED => Arc::new(Error::from(ErrorCode::MethodNotAllowed)),
            _ => return None,
        },
    };
    if !error.causes().is_empty() {
        // A server failure is the operator's business; a client's (an unknown model, say)
        // only when debugging.
        let level = if error.status().is_server_error() {
            LogLevel::Error
        } else {
            LogLevel::Debug
        };
        log::failure(level, id, component, error.message(), error.causes());
    }
    let body = match style {
        ErrorStyle::Envelope => error.envelope(id),
        ErrorStyle::OpenAi => crate::openai_error::body(&error),
    };
    let body = body.to_string();
    // The envelope's length is stated (as axum states a handler's): sent chunked, the
    // closing chunk left in a write of its own, which Nagle's algorithm (on in Spin's
    // listener) held until the client's delayed ACK: every error answered ~40 ms late on a
    // kept-alive connection.
    let length = HeaderValue::from(body.len());
    *response.body_mut() = Body::from(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, length);
    if error.code() == ErrorCode::Unauthenticated {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    Some(error.code())
}
