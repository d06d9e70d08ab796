//! The installed models, from each server's `/api/tags`, shared briefly in `ollama_servers`
//! (every chat page load asks for them; Ollama need not be asked each time).

use crate::servers;
use crate::upstream::{self, Failed};
use chat_core::Error;
use chat_core::spin::{Db, RequestContext};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelInfo {
    name: String,
    size: Option<u64>,
    family: Option<String>,
    parameter_size: Option<String>,
    quantization_level: Option<String>,
    modified_at: Option<String>,
}

impl ModelInfo {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn modified_at(&self) -> Option<&str> {
        self.modified_at.as_deref()
    }

    /// Whether this is the model `asked` names (`llama3.2` is `llama3.2:latest`).
    pub fn answers_to(&self, asked: &str) -> bool {
        self.name == asked || self.name.strip_suffix(":latest") == Some(asked)
    }
}

/// A model and the servers that have it (`GET /api/models`).
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub info: ModelInfo,
    pub servers: Vec<String>,
}

/// One server's models, from its `/api/tags`.
pub async fn fetch(base: &str, limit: std::time::Duration) -> Result<Vec<ModelInfo>, Failed> {
    let resp = upstream::attempt(base, http::Method::GET, "/api/tags", None, limit, None).await?;
    let v = upstream::json(resp, limit)
        .await
        .map_err(Failed::ServerError)?;
    let text = |m: &Value, k: &str| m["details"][k].as_str().map(str::to_string);
    Ok(v["models"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| {
                    Some(ModelInfo {
                        name: m["name"].as_str().or(m["model"].as_str())?.to_string(),
                        size: m["size"].as_u64(),
                        family: text(m, "family"),
                        parameter_size: text(m, "parameter_size"),
                        quantization_level: text(m, "quantization_level"),
                        modified_at: m["modified_at"].as_str().map(str::to_string),
                    })
                })
                .collect()
        })
        .unwrap_or_default())
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
            match out.iter_mut().find(|l| l.info.name == m.name) {
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
            .execute(
                "UPDATE ollama_servers SET models = NULL, models_at = NULL",
                vec![],
            )
            .await;
    }
}
