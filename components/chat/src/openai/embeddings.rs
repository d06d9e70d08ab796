//! `POST /v1/embeddings` in Ollama's terms (`/api/embed`), with OpenAI's float or base64
//! encodings (base64: the vector's little-endian `f32`s, which the official SDKs ask for by
//! default and decode themselves).

use base64::Engine;
use chat_core::error::Error;
use chat_core::usage::Tokens;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
pub struct EmbeddingsRequest {
    pub model: String,
    input: Value,
    encoding_format: Option<Encoding>,
    dimensions: Option<u32>,
    /// Accepted, not used (the app knows its users).
    #[allow(dead_code)]
    user: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Float,
    Base64,
}

fn bad(field: &str, message: impl Into<String>) -> Error {
    Error::validation(field, message)
}

impl EmbeddingsRequest {
    /// The `/api/embed` body.
    pub fn translate(&self) -> Result<Value, Error> {
        if self.model.trim().is_empty() {
            return Err(bad("model", "`model` must name a model."));
        }
        let inputs: Vec<&str> = match &self.input {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) if !items.is_empty() => items
                .iter()
                .map(Value::as_str)
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    bad(
                        "input",
                        "`input` must be text or a list of texts (token arrays are not supported).",
                    )
                })?,
            _ => {
                return Err(bad(
                    "input",
                    "`input` must be text or a non-empty list of texts.",
                ));
            }
        };
        if inputs.iter().any(|s| s.is_empty()) {
            return Err(bad("input", "`input` must not contain empty text."));
        }
        let mut body = json!({"model": self.model, "input": inputs, "truncate": true});
        match self.dimensions {
            Some(0) => return Err(bad("dimensions", "`dimensions` must be at least 1.")),
            Some(d) => body["dimensions"] = json!(d),
            None => {}
        }
        Ok(body)
    }

    pub fn encoding(&self) -> Encoding {
        self.encoding_format.unwrap_or_default()
    }
}

/// OpenAI's answer from Ollama's, and the tokens it cost; `Err` names what Ollama's answer
/// lacked.
pub fn reply(model: &str, answer: &Value, encoding: Encoding) -> Result<(Value, Tokens), String> {
    let vectors = answer["embeddings"].as_array().ok_or("no `embeddings`")?;
    let mut data = Vec::with_capacity(vectors.len());
    for (index, v) in vectors.iter().enumerate() {
        let floats: Vec<f64> = v
            .as_array()
            .and_then(|a| a.iter().map(Value::as_f64).collect())
            .ok_or("an embedding is not a list of numbers")?;
        let embedding = match encoding {
            Encoding::Float => json!(floats),
            Encoding::Base64 => {
                let bytes: Vec<u8> = floats
                    .iter()
                    .flat_map(|f| (*f as f32).to_le_bytes())
                    .collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
        };
        data.push(json!({"object": "embedding", "index": index, "embedding": embedding}));
    }
    let prompt = answer["prompt_eval_count"].as_u64().unwrap_or(0);
    let body = json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
    });
    Ok((
        body,
        Tokens {
            prompt,
            completion: 0,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<EmbeddingsRequest, Error> {
        chat_core::json::parse_json(v.to_string().as_bytes())
    }

    #[test]
    fn text_or_texts_become_ollamas_input() {
        let one = parse(json!({"model": "e", "input": "hi", "dimensions": 4})).expect("valid");
        assert_eq!(
            one.translate().expect("valid"),
            json!({"model": "e", "input": ["hi"], "truncate": true, "dimensions": 4})
        );
        assert_eq!(one.encoding(), Encoding::Float);
        let many = parse(json!({"model": "e", "input": ["a", "b"], "encoding_format": "base64"}))
            .expect("valid");
        assert_eq!(many.translate().expect("valid")["input"], json!(["a", "b"]));
        assert_eq!(many.encoding(), Encoding::Base64);
    }

    #[test]
    fn bad_inputs_name_their_field() {
        let table = [
            (json!({"model": "e", "input": []}), "input"),
            (json!({"model": "e", "input": [1, 2, 3]}), "input"),
            (json!({"model": "e", "input": ""}), "input"),
            (json!({"model": "e", "input": 5}), "input"),
            (json!({"model": "", "input": "x"}), "model"),
            (
                json!({"model": "e", "input": "x", "dimensions": 0}),
                "dimensions",
            ),
            (
                json!({"model": "e", "input": "x", "encoding_format": "hex"}),
                "encoding_format",
            ),
        ];
        for (body, field) in table {
            let e = parse(body.clone())
                .and_then(|r| r.translate())
                .expect_err(&body.to_string());
            assert_eq!(e.details().get("field"), Some(&json!(field)), "{body}");
        }
    }

    #[test]
    fn base64_is_little_endian_f32() {
        let answer = json!({"embeddings": [[0.5, -1.0]], "prompt_eval_count": 3});
        let (floats, tokens) = reply("e", &answer, Encoding::Float).expect("valid");
        assert_eq!(floats["data"][0]["embedding"], json!([0.5, -1.0]));
        assert_eq!(
            floats["usage"],
            json!({"prompt_tokens": 3, "total_tokens": 3})
        );
        assert_eq!(
            tokens,
            Tokens {
                prompt: 3,
                completion: 0
            }
        );
        let (b64, _) = reply("e", &answer, Encoding::Base64).expect("valid");
        let text = b64["data"][0]["embedding"].as_str().unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap_or_default();
        let back: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(back, [0.5, -1.0]);
        assert!(reply("e", &json!({}), Encoding::Float).is_err());
    }
}
