//! What the fake Ollama reads of `/api/chat` bodies beyond text, as Ollama does: images
//! (base64, refused when malformed), tool calls (arguments must be objects), tools (the model
//! calls the first one), `format` (JSON answers), and `/api/embed`'s vectors.

use base64::Engine;
use serde_json::{Value, json};

/// Ollama's `400` for a body it cannot decode, with its message; `None` when it can.
pub fn refusal(body: &Value) -> Option<String> {
    let messages = body["messages"].as_array()?;
    for m in messages {
        if let Some(images) = m.get("images") {
            let Some(images) = images.as_array() else {
                return Some("json: cannot unmarshal images into []ImageData".into());
            };
            for image in images {
                let data = image.as_str().unwrap_or_default();
                if let Err(e) = base64::engine::general_purpose::STANDARD.decode(data) {
                    return Some(e.to_string());
                }
            }
        }
        for call in m["tool_calls"].as_array().into_iter().flatten() {
            if !call["function"]["arguments"].is_object() {
                return Some(
                    "json: cannot unmarshal string into Go struct field \
                     ToolCallFunction.messages.tool_calls.function.arguments of type \
                     api.ToolCallFunctionArguments"
                        .into(),
                );
            }
        }
    }
    None
}

/// Ollama's error for an option it knows given another type (`Options.FromMap`; the chat
/// handler answers it `500`); `None` when every option it checks is fine. A few options of
/// each type stand for all of them; others are ignored, as Ollama ignores what it does not know.
pub fn option_refusal(body: &Value) -> Option<String> {
    let options = body["options"].as_object()?;
    for (key, value) in options {
        let wrong = match key.as_str() {
            "temperature" | "top_p" | "min_p" | "repeat_penalty" if !value.is_number() => {
                "must be of type float32"
            }
            "num_ctx" | "top_k" | "seed" | "num_predict" if !value.is_number() => {
                "must be of type integer"
            }
            "use_mmap" if !value.is_boolean() => "must be of type boolean",
            "stop" if !value.is_array() => "must be of type array",
            "stop"
                if !value
                    .as_array()
                    .is_some_and(|a| a.iter().all(Value::is_string)) =>
            {
                "must be of an array of strings"
            }
            _ => continue,
        };
        return Some(format!("option {key:?} {wrong}"));
    }
    None
}

/// The tool call the model makes: with `tools` offered and the last message not a tool's
/// answer, it calls the first tool with an argument of the right type for each property.
pub fn tool_call(body: &Value) -> Option<Value> {
    let tool = body["tools"].as_array()?.first()?;
    let last = body["messages"].as_array()?.last()?;
    if last["role"] == "tool" {
        return None;
    }
    let function = &tool["function"];
    let mut arguments = serde_json::Map::new();
    if let Some(props) = function["parameters"]["properties"].as_object() {
        for (name, schema) in props {
            let value = match schema["type"].as_str() {
                Some("number" | "integer") => json!(1),
                Some("boolean") => json!(true),
                Some("array") => json!([]),
                Some("object") => json!({}),
                _ => json!("Paris"),
            };
            arguments.insert(name.clone(), value);
        }
    }
    Some(json!({"function": {"name": function["name"], "arguments": arguments}}))
}

/// Whether `format` asks for JSON (`"json"` or a schema).
pub fn wants_json(body: &Value) -> bool {
    body["format"] == "json" || body["format"].is_object()
}

/// Content chunk `i` of `n`: `tok{i} `, or, for a JSON answer, the same words inside
/// `{"answer": "..."}` so that the whole is one JSON object.
pub fn content(i: usize, n: usize, json: bool) -> String {
    let word = format!("tok{i} ");
    if !json {
        return word;
    }
    let open = if i == 0 { "{\"answer\": \"" } else { "" };
    let close = if i + 1 == n { "\"}" } else { "" };
    format!("{open}{word}{close}")
}

/// `/api/embed`'s answer to `body` for an installed model: one vector per input, the same
/// for the same text (`dimensions` long, else 8).
pub fn embeddings(body: &Value) -> Result<Value, String> {
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or("json: cannot unmarshal number into []string")?,
        _ => return Err("invalid input type".into()),
    };
    let dims = body["dimensions"].as_u64().unwrap_or(8).max(1);
    let vectors: Vec<Vec<f32>> = inputs.iter().map(|t| vector(t, dims)).collect();
    let tokens: usize = inputs.iter().map(|t| (t.chars().count() / 4).max(1)).sum();
    Ok(json!({
        "model": body["model"],
        "embeddings": vectors,
        "total_duration": 1_234_567,
        "load_duration": 234_567,
        "prompt_eval_count": tokens,
    }))
}

/// A unit vector from the text's SHA-256 (exact in `f32`: multiples of 1/256).
fn vector(text: &str, dims: u64) -> Vec<f32> {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(text.as_bytes());
    (0..dims)
        .map(|i| {
            let byte = hash[usize::try_from(i).unwrap_or(0) % hash.len()];
            (f32::from(byte) - 128.0) / 256.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_images_and_string_arguments_are_refused() {
        let ok = json!({"messages": [{"role": "user", "content": "x", "images": ["AAAA"]}]});
        assert_eq!(refusal(&ok), None);
        let bad = json!({"messages": [{"role": "user", "content": "x", "images": ["***"]}]});
        assert!(refusal(&bad).is_some());
        let text_args = json!({"messages": [{"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}]});
        assert!(refusal(&text_args).is_some_and(|m| m.contains("arguments")));
    }

    #[test]
    fn known_options_of_another_type_are_refused_as_ollama_does() {
        let fine =
            json!({"options": {"temperature": 0.2, "top_k": 40, "stop": ["x"], "mine": "y"}});
        assert_eq!(option_refusal(&fine), None);
        for (options, message) in [
            (
                json!({"temperature": "hot"}),
                "option \"temperature\" must be of type float32",
            ),
            (
                json!({"num_ctx": "4096"}),
                "option \"num_ctx\" must be of type integer",
            ),
            (
                json!({"use_mmap": 1}),
                "option \"use_mmap\" must be of type boolean",
            ),
            (
                json!({"stop": "END"}),
                "option \"stop\" must be of type array",
            ),
            (
                json!({"stop": [1]}),
                "option \"stop\" must be of an array of strings",
            ),
        ] {
            let body = json!({ "options": options });
            assert_eq!(option_refusal(&body).as_deref(), Some(message), "{body}");
        }
    }

    #[test]
    fn the_model_calls_the_first_tool_until_it_has_an_answer() {
        let tools = json!([{"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}}}]);
        let asked = json!({"tools": tools, "messages": [{"role": "user", "content": "?"}]});
        assert_eq!(
            tool_call(&asked),
            Some(
                json!({"function": {"name": "weather", "arguments": {"city": "Paris", "days": 1}}})
            )
        );
        let answered = json!({"tools": tools, "messages": [{"role": "tool", "content": "18 C"}]});
        assert_eq!(tool_call(&answered), None);
    }

    #[test]
    fn json_answers_parse_and_vectors_repeat() {
        let whole: String = (0..3).map(|i| content(i, 3, true)).collect();
        assert!(serde_json::from_str::<Value>(&whole).is_ok_and(|v| v["answer"].is_string()));
        assert_eq!(content(0, 1, true), "{\"answer\": \"tok0 \"}");
        let a = embeddings(&json!({"model": "e", "input": ["x", "y"], "dimensions": 4}));
        let a = a.unwrap_or_default();
        assert_eq!(a["embeddings"].as_array().map(Vec::len), Some(2));
        assert_eq!(a["embeddings"][0].as_array().map(Vec::len), Some(4));
        let b =
            embeddings(&json!({"model": "e", "input": "x", "dimensions": 4})).unwrap_or_default();
        assert_eq!(a["embeddings"][0], b["embeddings"][0]);
        assert!(embeddings(&json!({"input": [1]})).is_err());
    }
}
