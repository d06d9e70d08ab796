//! `GET /metrics`: Prometheus text exposition, for an admin's token or key, or the
//! `metrics_token` variable as bearer (compared in constant time).

use axum::response::{IntoResponse, Response};
use chat_core::Error;
use chat_core::metrics::Gauges;
use chat_core::spin::{Db, vars};
use http::{HeaderMap, HeaderValue, header};

pub async fn get(headers: HeaderMap) -> Result<Response, Error> {
    let expected = vars::get("metrics_token").await?;
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let is_metrics_token =
        !expected.is_empty() && chat_core::secure_eq(presented.as_bytes(), expected.as_bytes());
    if !is_metrics_token {
        chat_core::spin::auth::require_admin(&http::Method::GET, &headers).await?;
    }
    let db = Db::open().await?;
    let gauges = Gauges {
        users: db
            .query::<StatusCount>(chat_store::metrics::USERS_BY_STATUS, vec![])
            .await?
            .into_iter()
            .map(|r| (r.0, r.1))
            .collect(),
        conversations: count(&db, chat_store::metrics::CONVERSATIONS).await?,
        messages: count(&db, chat_store::metrics::MESSAGES).await?,
        schema_version: db.schema_version().await?,
    };
    let body = chat_core::metrics::render(&gauges, &chat_core::spin::metrics::stored(&db).await?);
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(r)
}

struct StatusCount(String, i64);

chat_core::from_columns!(StatusCount(status, n));

struct Count(i64);

chat_core::from_columns!(Count(n));

async fn count(db: &Db, sql: &str) -> Result<i64, Error> {
    Ok(db.query_opt::<Count>(sql, vec![]).await?.map_or(0, |c| c.0))
}
