//! The request pipeline every component runs: request id, CORS (preflight too), body-size
//! limit, the component's axum router, errors rendered as the contract's envelope (404 and
//! 405 with `allow` included), security headers, and one log line per request.

use super::extract::RequestContext;
use super::{log, vars};
use crate::cors::CorsPolicy;
use crate::error::{Error, ErrorCode};
use crate::request_id::request_id;
use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Instant;
use tower_service::Service;

const X_REQUEST_ID: &str = "x-request-id";
const IMPORT_PATH: &str = "/api/conversations/import";

/// Serves one request with `router`. `component` names the component in logs.
pub async fn serve(
    req: spin_sdk::http::Request,
    component: &'static str,
    router: Router,
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
    let mut cors = None;
    let mut response = match handle(req, component, &id, router, &mut cors).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    render_error(&mut response, &id, component);
    let headers = response.headers_mut();
    crate::security_headers::apply(headers);
    if let Ok(v) = HeaderValue::from_str(&id) {
        headers.insert(X_REQUEST_ID, v);
    }
    if let Some(policy) = &cors {
        let preflight = method == Method::OPTIONS && response.status() == StatusCode::NO_CONTENT;
        CorsPolicy::apply(policy, origin.as_deref(), preflight, response.headers_mut());
    }
    let mut f = Map::new();
    f.insert("request_id".into(), Value::from(id));
    f.insert("component".into(), Value::from(component));
    f.insert("method".into(), Value::from(method.as_str()));
    f.insert("path".into(), Value::from(path));
    f.insert("status".into(), Value::from(response.status().as_u16()));
    f.insert(
        "duration_ms".into(),
        Value::from(started.elapsed().as_secs_f64() * 1000.0),
    );
    log::line("info", f);
    response
}

async fn handle(
    req: spin_sdk::http::Request,
    component: &'static str,
    id: &str,
    mut router: Router,
    cors_out: &mut Option<CorsPolicy>,
) -> Result<Response, Error> {
    let config = vars::config().await?;
    *cors_out = Some(config.cors.clone());
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
        return Ok(r);
    }
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
        return Err(too_large());
    }
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
        Err(e) => {
            return Err(Error::new(
                ErrorCode::InvalidJson,
                "The request body could not be read.",
            )
            .with_cause(e));
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
    let client_ip = header_str("spin-client-addr").map(|a| match a.rsplit_once(':') {
        Some((ip, _)) => ip.trim_matches(['[', ']']).to_string(),
        None => a,
    });
    let context = RequestContext {
        request_id: id.to_string(),
        config,
        component,
        client_ip,
        full_url: header_str("spin-full-url"),
    };
    parts.extensions.insert(context);
    let req = http::Request::from_parts(parts, Body::from(bytes));
    let response = match router.call(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    Ok(response)
}

/// Writes the envelope for error responses: ours (an [`Error`] in the extensions) and axum's
/// own 404/405, which keep their `allow` header.
fn render_error(response: &mut Response, id: &str, component: &'static str) {
    let error = match response.extensions_mut().remove::<Arc<Error>>() {
        Some(e) => e,
        None => match response.status() {
            StatusCode::NOT_FOUND => Arc::new(Error::from(ErrorCode::NotFound)),
            StatusCode::METHOD_NOT_ALLOWED => Arc::new(Error::from(ErrorCode::MethodNotAllowed)),
            _ => return,
        },
    };
    if let Some(cause) = error.internal_cause() {
        log::error(id, component, error.message(), cause);
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
}

/// The catch-all for unknown routes inside a component.
pub async fn not_found() -> Error {
    Error::from(ErrorCode::NotFound)
}
