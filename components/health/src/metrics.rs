//! `GET /metrics`: Prometheus text exposition, for an admin's token or key, or the
//! `metrics_token` variable as bearer (compared in constant time).

use axum::response::{IntoResponse, Response};
use chat_core::Error;
use chat_core::spin::{Db, FromRow, Row, vars};
use http::{HeaderMap, HeaderValue, header};

struct Version(i64);

impl FromRow for Version {
    fn from_row(row: &Row<'_>) -> Result<Self, Error> {
        Ok(Self(row.opt_int("version")?.unwrap_or(0)))
    }
}

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
    let version: Option<Version> = db
        .query_opt(
            "SELECT MAX(version) AS version FROM schema_migrations",
            vec![],
        )
        .await?;
    let body = format!(
        "# HELP ollama_chat_info Build information.\n\
         # TYPE ollama_chat_info gauge\n\
         ollama_chat_info{{version=\"{}\"}} 1\n\
         # HELP ollama_chat_schema_version Applied database schema version.\n\
         # TYPE ollama_chat_schema_version gauge\n\
         ollama_chat_schema_version {}\n",
        env!("CARGO_PKG_VERSION"),
        version.map(|v| v.0).unwrap_or(0)
    );
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(r)
}
