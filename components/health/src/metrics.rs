//! `GET /metrics`: Prometheus text exposition, for an admin's token or key, or the
//! `metrics_token` variable as bearer (compared in constant time).

use axum::response::{IntoResponse, Response};
use chat_core::Error;
use chat_core::spin::{Db, vars};
use http::{HeaderMap, HeaderValue, header};

pub async fn get(headers: HeaderMap) -> Result<Response, Error> {
    let expected = vars::get("metrics_token").await?.unwrap_or_default();
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let is_metrics_token =
        !expected.is_empty() && chat_core::secure_eq(presented.as_bytes(), expected.as_bytes());
    if !is_metrics_token {
        chat_core::spin::auth::require_admin(&headers).await?;
    }
    let db = Db::open().await?;
    let version = chat_core::spin::migrate::schema_version(&db).await?;
    let body = format!(
        "# HELP ollama_chat_info Build information.\n\
         # TYPE ollama_chat_info gauge\n\
         ollama_chat_info{{version=\"{}\"}} 1\n\
         # HELP ollama_chat_schema_version Applied database schema version.\n\
         # TYPE ollama_chat_schema_version gauge\n\
         ollama_chat_schema_version {}\n",
        env!("CARGO_PKG_VERSION"),
        version
    );
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(r)
}
