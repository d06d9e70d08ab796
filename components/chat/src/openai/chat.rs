//! An OpenAI chat-completions request, checked and turned into the body of Ollama's
//! `/api/chat`. Unknown fields are ignored (OpenAI's clients add new ones often); what the app
//! cannot honour (`n` other than 1, an image by `http(s)` URL, a tool reply to no call) is a
//! `400` naming the field.

use chat_core::error::Error;
use serde::Deserialize;
use serde_json::{Map, Value, json};

#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    messages: Vec<Message>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    n: Option<u32>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    stop: Option<Stop>,
    seed: Option<i64>,
    presence_penalty: Option<f64>,
    frequency_penalty: Option<f64>,
    response_format: Option<ResponseFormat>,
    tools: Option<Vec<Tool>>,
    tool_choice: Option<ToolChoice>,
    /// The caller's own end-user id: accepted, not used (the app knows its users).
    #[allow(dead_code)]
    user: Option<String>,
}

#[derive(Debug, Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub(super) enum Message {
    System {
        content: Content,
    },
    Developer {
        content: Content,
    },
    User {
        content: Content,
    },
    Assistant {
        content: Option<Content>,
        tool_calls: Option<Vec<ToolCall>>,
    },
    Tool {
        content: Content,
        tool_call_id: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Part {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
}

#[derive(Debug, Deserialize)]
pub(super) struct ImageUrl {
    pub(super) url: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct ToolCall {
    pub(super) id: String,
    pub(super) function: FunctionCall,
}

#[derive(Debug, Deserialize)]
pub(super) struct FunctionCall {
    pub(super) name: String,
    /// JSON text, as OpenAI sends it; Ollama wants the object.
    pub(super) arguments: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchema },
}

#[derive(Debug, Deserialize)]
struct JsonSchema {
    schema: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Tool {
    Function { function: FunctionDef },
}

#[derive(Debug, Deserialize)]
struct FunctionDef {
    name: String,
    description: Option<String>,
    parameters: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ToolChoice {
    /// `none`, `auto` or `required`.
    Mode(String),
    Named {
        function: Named,
    },
}

#[derive(Debug, Deserialize)]
struct Named {
    name: String,
}

/// A request turned into Ollama's terms.
#[derive(Debug)]
pub struct Translated {
    /// The `/api/chat` body (always streamed from Ollama: a whole answer is collected here).
    pub body: Value,
    pub stream: bool,
    pub include_usage: bool,
}

pub(super) fn bad(field: impl Into<String>, message: impl Into<String>) -> Error {
    Error::validation(field, message)
}

impl ChatRequest {
    /// Checks what JSON's shape cannot and builds Ollama's body.
    pub fn translate(&self) -> Result<Translated, Error> {
        if self.model.trim().is_empty() {
            return Err(bad("model", "`model` must name a model."));
        }
        if let Some(n) = self.n.filter(|n| *n != 1) {
            return Err(bad(
                "n",
                format!("Only one choice is generated; `n` {n} is not supported."),
            ));
        }
        if self.messages.is_empty() {
            return Err(bad("messages", "`messages` must not be empty."));
        }
        let mut messages = Vec::with_capacity(self.messages.len());
        for (i, m) in self.messages.iter().enumerate() {
            messages.push(super::messages::to_ollama(m, i, &self.messages[..i])?);
        }
        let mut body = json!({
            "model": self.model,
            "messages": messages,
            "stream": true,
        });
        let options = self.options()?;
        if !options.is_empty() {
            body["options"] = Value::Object(options);
        }
        match &self.response_format {
            Some(ResponseFormat::JsonObject) => body["format"] = json!("json"),
            Some(ResponseFormat::JsonSchema { json_schema }) => match &json_schema.schema {
                Some(s @ Value::Object(_)) => body["format"] = s.clone(),
                _ => {
                    return Err(bad(
                        "response_format.json_schema.schema",
                        "`json_schema.schema` must be a JSON Schema object.",
                    ));
                }
            },
            Some(ResponseFormat::Text) | None => {}
        }
        if let Some(tools) = self.tools()? {
            body["tools"] = tools;
        }
        Ok(Translated {
            body,
            stream: self.stream.unwrap_or(false),
            include_usage: self
                .stream_options
                .as_ref()
                .and_then(|o| o.include_usage)
                .unwrap_or(false),
        })
    }

    /// The sampling fields as Ollama's `options`, each in OpenAI's range.
    fn options(&self) -> Result<Map<String, Value>, Error> {
        let mut o = Map::new();
        let ranged = [
            ("temperature", self.temperature, 0.0, 2.0, "temperature"),
            ("top_p", self.top_p, 0.0, 1.0, "top_p"),
            (
                "presence_penalty",
                self.presence_penalty,
                -2.0,
                2.0,
                "presence_penalty",
            ),
            (
                "frequency_penalty",
                self.frequency_penalty,
                -2.0,
                2.0,
                "frequency_penalty",
            ),
        ];
        for (field, value, low, high, option) in ranged {
            if let Some(v) = value {
                if !(low..=high).contains(&v) {
                    return Err(bad(
                        field,
                        format!("`{field}` must be between {low} and {high}."),
                    ));
                }
                o.insert(option.into(), json!(v));
            }
        }
        if let Some(n) = self.max_completion_tokens.or(self.max_tokens) {
            o.insert("num_predict".into(), json!(n));
        }
        if let Some(seed) = self.seed {
            o.insert("seed".into(), json!(seed));
        }
        match &self.stop {
            Some(Stop::One(s)) => {
                o.insert("stop".into(), json!([s]));
            }
            Some(Stop::Many(v)) if v.len() > 4 => {
                return Err(bad("stop", "At most 4 stop sequences."));
            }
            Some(Stop::Many(v)) if !v.is_empty() => {
                o.insert("stop".into(), json!(v));
            }
            _ => {}
        }
        Ok(o)
    }

    /// Ollama's `tools`, as `tool_choice` leaves them (`none`: none; a named function: that one).
    fn tools(&self) -> Result<Option<Value>, Error> {
        let Some(tools) = self.tools.as_ref().filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let only = match &self.tool_choice {
            Some(ToolChoice::Mode(m)) if m == "none" => return Ok(None),
            Some(ToolChoice::Mode(m)) if m == "auto" || m == "required" => None,
            Some(ToolChoice::Mode(m)) => {
                return Err(bad("tool_choice", format!("Unknown `tool_choice` `{m}`.")));
            }
            Some(ToolChoice::Named { function }) => Some(function.name.as_str()),
            None => None,
        };
        let mut out = Vec::new();
        for (i, Tool::Function { function: f }) in tools.iter().enumerate() {
            if f.name.is_empty() {
                return Err(bad(
                    format!("tools[{i}].function.name"),
                    "A tool needs a name.",
                ));
            }
            if let Some(p) = f.parameters.as_ref().filter(|p| !p.is_object()) {
                return Err(bad(
                    format!("tools[{i}].function.parameters"),
                    format!("`parameters` must be a JSON Schema object, not {p}."),
                ));
            }
            if only.is_some_and(|name| name != f.name) {
                continue;
            }
            let mut function = json!({"name": f.name});
            if let Some(d) = &f.description {
                function["description"] = json!(d);
            }
            function["parameters"] = f
                .parameters
                .clone()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
            out.push(json!({"type": "function", "function": function}));
        }
        if let Some(name) = only.filter(|_| out.is_empty()) {
            return Err(bad(
                "tool_choice",
                format!("`tool_choice` names `{name}`, which is not in `tools`."),
            ));
        }
        Ok(Some(Value::Array(out)))
    }
}

#[cfg(test)]
mod tests;
