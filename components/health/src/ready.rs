//! `GET /health/ready`: readiness. SQLite and the key-value store must work (else `503`,
//! status `down`); an Ollama server unreachable only makes it `degraded` (still `200`), since
//! everything but chat keeps working (and chat too while another server is up). Checks run
//! concurrently, each timed.

use axum::http::StatusCode;
use chat_core::Error;
use chat_core::spin::ApiJson as Json;
use chat_core::spin::{Db, Kv, RequestContext};
use serde_json::{Value, json};
use spin_sdk::http::body::IncomingBodyExt;
use std::time::{Duration, Instant};

/// Ollama answers `/api/version` at once when it is up; a slower answer counts as down.
const OLLAMA_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn get(ctx: RequestContext) -> (StatusCode, Json<Value>) {
    let id = ctx.request_id.as_str();
    let (sqlite, kv, ollama) = futures::join!(
        check_sqlite(id),
        check_kv(id),
        check_ollama(id, ctx.config.servers.urls())
    );
    let ok = |c: &Value| c["status"] == "ok";
    let some_down = ollama["servers"]
        .as_array()
        .is_some_and(|s| s.iter().any(|p| p["status"] != "up"));
    let (status, code) = if !ok(&sqlite) || !ok(&kv) {
        ("down", StatusCode::SERVICE_UNAVAILABLE)
    } else if !ok(&ollama) || some_down {
        ("degraded", StatusCode::OK)
    } else {
        ("ok", StatusCode::OK)
    };
    (
        code,
        Json(json!({
            "status": status,
            "checks": { "sqlite": sqlite, "kv": kv, "ollama": ollama },
        })),
    )
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}

fn outcome(request_id: &str, result: Result<Value, Error>, started: Instant) -> Value {
    match result {
        Ok(mut extra) => {
            extra["status"] = "ok".into();
            extra["latency_ms"] = ms(started).into();
            extra
        }
        Err(e) => {
            if !e.causes().is_empty() {
                let message = "readiness check failed";
                chat_core::spin::log::error(request_id, "health", message, e.causes());
            }
            json!({ "status": "error", "latency_ms": ms(started) })
        }
    }
}

async fn check_sqlite(request_id: &str) -> Value {
    let started = Instant::now();
    let result = async {
        let db = Db::open().await?;
        let v = db.schema_version().await?;
        Ok(json!({ "schema_version": v }))
    }
    .await;
    outcome(request_id, result, started)
}

async fn check_kv(request_id: &str) -> Value {
    let started = Instant::now();
    let result = async {
        let kv = Kv::open_default().await?;
        kv.set("health:probe", b"ok").await?;
        match kv.get("health:probe").await? {
            Some(v) if v == b"ok" => Ok(json!({})),
            _ => Err(Error::internal(
                "key-value store did not return what was written",
            )),
        }
    }
    .await;
    outcome(request_id, result, started)
}

/// Every Ollama server, probed at once: `ok` when any is up (with the first one's version),
/// and each server's own line.
async fn check_ollama(request_id: &str, servers: &[String]) -> Value {
    let started = Instant::now();
    let probes = futures::future::join_all(servers.iter().map(|url| probe(request_id, url))).await;
    let up: Vec<&Value> = probes.iter().filter(|p| p["status"] == "up").collect();
    json!({
        "status": if up.is_empty() { "error" } else { "ok" },
        "latency_ms": ms(started),
        "version": up.first().map_or(Value::Null, |p| p["version"].clone()),
        "servers": probes,
    })
}

/// One server's `/api/version`, within [`OLLAMA_PROBE_TIMEOUT`].
async fn probe(request_id: &str, base: &str) -> Value {
    let started = Instant::now();
    let probe = async {
        let resp = spin_sdk::http::get(format!("{base}/api/version"))
            .await
            .map_err(|e| Error::internal("ollama unreachable").because(format!("{e:?}")))?;
        if !resp.status().is_success() {
            return Err(Error::internal(format!(
                "ollama answered {}",
                resp.status()
            )));
        }
        let body = resp
            .into_body()
            .bytes()
            .await
            .map_err(|e| Error::internal("reading ollama version").because(format!("{e:?}")))?;
        let v: Value = serde_json::from_slice(&body).map_err(Error::internal)?;
        Ok(v.get("version").cloned().unwrap_or(Value::Null))
    };
    let timeout = spin_sdk::time::sleep(OLLAMA_PROBE_TIMEOUT);
    let result = match futures::future::select(Box::pin(probe), Box::pin(timeout)).await {
        futures::future::Either::Left((r, _)) => r,
        futures::future::Either::Right(_) => Err(Error::internal("ollama did not answer in time")),
    };
    let latency = ms(started);
    match result {
        Ok(version) => {
            json!({"url": base, "status": "up", "latency_ms": latency, "version": version})
        }
        Err(e) => {
            let causes = [vec![base.to_string()], e.causes().to_vec()].concat();
            chat_core::spin::log::error(request_id, "health", "Ollama server down", &causes);
            json!({"url": base, "status": "down", "latency_ms": latency, "version": null})
        }
    }
}
