//! The installed-model list from Ollama's `/api/tags`, cached briefly in the key-value store
//! (every chat page load asks for it; Ollama need not be asked each time).

use crate::upstream;
use chat_core::Error;
use chat_core::spin::{Kv, RequestContext};
use serde::{Deserialize, Serialize};
use serde_json::Value;

const CACHE_KEY: &str = "chat:models";
const CACHE_SECONDS: i64 = 30;

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

#[derive(Serialize, Deserialize)]
struct Cached {
    fetched_at: i64,
    items: Vec<ModelInfo>,
}

fn now() -> i64 {
    chat_core::time::to_unix(&chat_core::time::now_rfc3339()).unwrap_or(0)
}

pub async fn list(ctx: &RequestContext) -> Result<Vec<ModelInfo>, Error> {
    let kv = Kv::open_default().await?;
    if let Ok(Some(c)) = kv.get_json::<Cached>(CACHE_KEY).await
        && (0..CACHE_SECONDS).contains(&(now() - c.fetched_at))
    {
        return Ok(c.items);
    }
    let cfg = &ctx.config;
    let resp = upstream::send(
        &cfg.ollama_url,
        http::Method::GET,
        "/api/tags",
        None,
        cfg.ollama_timeout,
        None,
    )
    .await?;
    let v = upstream::json(resp, cfg.ollama_timeout).await?;
    let text = |m: &Value, k: &str| m["details"][k].as_str().map(str::to_string);
    let items: Vec<ModelInfo> = v["models"]
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
        .unwrap_or_default();
    let _ = kv
        .set_json(
            CACHE_KEY,
            &Cached {
                fetched_at: now(),
                items: items.clone(),
            },
        )
        .await;
    Ok(items)
}

/// After a pull or delete the list has changed.
pub async fn forget() {
    if let Ok(kv) = Kv::open_default().await {
        let _ = kv.delete(CACHE_KEY).await;
    }
}
