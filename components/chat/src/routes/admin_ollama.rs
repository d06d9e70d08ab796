//! `GET /api/admin/ollama` (admins): each Ollama server as every instance sees it, probed now:
//! `up`, `down` (its `/api/version` failed) or `cooling` (a recent failure; skipped for chat
//! until `cooling_until`), its version, models, answers running on it and the last failure.

use crate::servers::{self, Known};
use crate::{models, upstream};
use chat_core::Error;
use chat_core::config::Config;
use chat_core::spin::auth::Admin;
use chat_core::spin::{ApiJson, Db, RequestContext};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A server that takes longer than this to say its version is `down`.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn get(_: Admin, ctx: RequestContext) -> Result<ApiJson<Value>, Error> {
    let db = Db::open().await?;
    let known = servers::known(&db, &ctx.config).await?;
    let items = futures::future::join_all(known.iter().map(|k| view(&ctx.config, k))).await;
    Ok(ApiJson(json!({ "items": items })))
}

async fn view(config: &Config, k: &Known) -> Value {
    let started = Instant::now();
    let limit = PROBE_TIMEOUT.min(config.ollama_timeout);
    let version = async {
        let resp =
            upstream::attempt(&k.url, http::Method::GET, "/api/version", None, limit, None).await?;
        let v = upstream::json(resp, limit)
            .await
            .map_err(upstream::Failed::ServerError)?;
        Ok::<_, upstream::Failed>(v["version"].clone())
    };
    let (version, tags) = futures::join!(version, models::fetch(&k.url, limit));
    let latency_ms = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
    let now = chat_core::time::now_rfc3339();
    let (status, version, last_error) = match version {
        _ if k.cooling(&now) => ("cooling", Value::Null, k.last_error.clone()),
        Ok(v) => ("up", v, k.last_error.clone()),
        Err(f) => ("down", Value::Null, Some(f.summary().to_string())),
    };
    let names: Vec<String> = match (tags, &k.models) {
        (Ok(items), _) => items.iter().map(|m| m.name().to_string()).collect(),
        (Err(_), Some(cached)) => cached.iter().map(|m| m.name().to_string()).collect(),
        (Err(_), None) => Vec::new(),
    };
    json!({
        "url": k.url,
        "status": status,
        "version": version,
        "models": names,
        "running": k.in_flight,
        "latency_ms": latency_ms,
        "last_error": last_error,
        "cooling_until": k.cooling_until.as_deref().filter(|u| *u > now.as_str()),
    })
}
