//! One Ollama server's installed models, from its `/api/tags`.

use crate::upstream::{self, Failed};
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
