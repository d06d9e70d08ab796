//! `GET /openapi.json`: the API reference, an OpenAPI 3.1 document of every route.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};

const DOCUMENT: &str = include_str!("../openapi.json");

pub async fn get() -> Response {
    let mut r = DOCUMENT.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Public and the same for everyone: caches may keep it.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}
