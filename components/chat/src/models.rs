//! The installed models, from each server's `/api/tags`, shared briefly in `ollama_servers`
//! (every chat page load asks for them; Ollama need not be asked each time).

use crate::servers;
pub use crate::tags::{ModelInfo, fetch};
use chat_core::Error;
use chat_core::spin::{Db, RequestContext};
use serde::Serialize;

/// A model and the servers that have it (`GET /api/models`).
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub info: ModelInfo,
    pub servers: Vec<String>,
}

/// Every model of every reachable server (the lists shared in `ollama_servers`, fetched again
/// when older than a short while), each once with the servers that have it, in the
/// configured order. A server cooling down is left out; when no server answers, the failure.
pub async fn union(ctx: &RequestContext) -> Result<Vec<Listed>, Error> {
    let config = &ctx.config;
    let db = Db::open().await?;
    let mut known = servers::known(&db, config).await?;
    let now = chat_core::time::now_rfc3339();
    let due: Vec<usize> = (0..known.len())
        .filter(|&i| !known[i].cooling(&now) && !known[i].is_fresh())
        .collect();
    let mut failures = servers::refresh(&db, config, &mut known, &due).await;
    let mut out: Vec<Listed> = Vec::new();
    let mut answered = false;
    for (i, k) in known.iter().enumerate() {
        let failed = failures.iter().any(|(f, _)| *f == i);
        let (Some(models), false, false) = (&k.models, k.cooling(&now), failed) else {
            continue;
        };
        answered = true;
        for m in models {
            match out.iter_mut().find(|l| l.info.name() == m.name()) {
                Some(l) => l.servers.push(k.url.clone()),
                None => out.push(Listed {
                    info: m.clone(),
                    servers: vec![k.url.clone()],
                }),
            }
        }
    }
    match (answered, failures.pop()) {
        (false, Some((_, e))) => Err(e),
        _ => Ok(out),
    }
}

/// The models of [`union`], without their servers.
pub async fn list(ctx: &RequestContext) -> Result<Vec<ModelInfo>, Error> {
    Ok(union(ctx).await?.into_iter().map(|l| l.info).collect())
}

/// After a pull or delete the lists have changed.
pub async fn forget() {
    if let Ok(db) = Db::open().await {
        let _ = db
            .execute(chat_store::servers::FORGET_ALL_MODELS, vec![])
            .await;
    }
}
