//! An OpenAI chat-completions request, checked and turned into the body of Ollama's
//! `/api/chat`. Unknown fields are ignored (OpenAI's clients add new ones often); what the app
//! cannot honour (`n` other than 1, an image by `http(s)` URL, a tool reply to no call) is a
//! `400` naming the field.

use base64::Engine;
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
enum Message {
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
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Part {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
}

#[derive(Debug, Deserialize)]
struct ImageUrl {
    url: String,
}

#[derive(Debug, Deserialize)]
struct ToolCall {
    id: String,
    function: FunctionCall,
}

#[derive(Debug, Deserialize)]
struct FunctionCall {
    name: String,
    /// JSON text, as OpenAI sends it; Ollama wants the object.
    arguments: String,
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

fn bad(field: impl Into<String>, message: impl Into<String>) -> Error {
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
            messages.push(to_ollama(m, i, &self.messages[..i])?);
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

/// One message in Ollama's terms; `earlier` are the messages before it (a tool reply names
/// the function of the call it answers, as Ollama wants).
fn to_ollama(m: &Message, i: usize, earlier: &[Message]) -> Result<Value, Error> {
    let field = |rest: &str| format!("messages[{i}].{rest}");
    Ok(match m {
        Message::System { content } | Message::Developer { content } => {
            json!({"role": "system", "content": text_only(content, &field("content"))?})
        }
        Message::User { content } => {
            let (text, images) = text_and_images(content, &field("content"))?;
            let mut m = json!({"role": "user", "content": text});
            if !images.is_empty() {
                m["images"] = json!(images);
            }
            m
        }
        Message::Assistant {
            content,
            tool_calls,
        } => {
            let text = match content {
                Some(c) => text_only(c, &field("content"))?,
                None => String::new(),
            };
            let mut m = json!({"role": "assistant", "content": text});
            if let Some(calls) = tool_calls.as_ref().filter(|c| !c.is_empty()) {
                let mut out = Vec::new();
                for (j, c) in calls.iter().enumerate() {
                    let arguments: Value = serde_json::from_str(&c.function.arguments)
                        .ok()
                        .filter(Value::is_object)
                        .ok_or_else(|| {
                            bad(
                                field(&format!("tool_calls[{j}].function.arguments")),
                                "`arguments` must be a JSON object in a string.",
                            )
                        })?;
                    out.push(
                        json!({"function": {"name": c.function.name, "arguments": arguments}}),
                    );
                }
                m["tool_calls"] = Value::Array(out);
            }
            m
        }
        Message::Tool {
            content,
            tool_call_id,
        } => {
            let name = called(earlier, tool_call_id).ok_or_else(|| {
                bad(
                    field("tool_call_id"),
                    format!("No earlier assistant message made the tool call `{tool_call_id}`."),
                )
            })?;
            json!({"role": "tool", "content": text_only(content, &field("content"))?, "tool_name": name})
        }
    })
}

/// The function name of the call `id` among `earlier` messages' tool calls.
fn called<'a>(earlier: &'a [Message], id: &str) -> Option<&'a str> {
    earlier.iter().rev().find_map(|m| match m {
        Message::Assistant {
            tool_calls: Some(calls),
            ..
        } => calls
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.function.name.as_str()),
        _ => None,
    })
}

fn text_only(content: &Content, field: &str) -> Result<String, Error> {
    let (text, images) = text_and_images(content, field)?;
    if images.is_empty() {
        Ok(text)
    } else {
        Err(bad(field, "Only user messages may carry images."))
    }
}

/// The text parts joined, and the images' base64 data.
fn text_and_images(content: &Content, field: &str) -> Result<(String, Vec<String>), Error> {
    let parts = match content {
        Content::Text(t) => return Ok((t.clone(), Vec::new())),
        Content::Parts(p) => p,
    };
    let mut text = String::new();
    let mut images = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        match part {
            Part::Text { text: t } => {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(t);
            }
            Part::ImageUrl { image_url } => {
                let at = format!("{field}[{j}].image_url.url");
                images.push(image_data(&image_url.url).map_err(|m| bad(at, m))?);
            }
        }
    }
    Ok((text, images))
}

/// The base64 payload of a `data:image/...;base64,` URL. The app fetches nothing but Ollama,
/// so an `http(s)` URL is refused.
fn image_data(url: &str) -> Result<String, String> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Err(
            "Images must be `data:` URLs (base64); the app does not fetch images by URL.".into(),
        );
    };
    let (mime, data) = rest
        .split_once(";base64,")
        .ok_or("An image `data:` URL must be base64 (`data:image/png;base64,...`).")?;
    if !mime.starts_with("image/") {
        return Err(format!("`{mime}` is not an image type."));
    }
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| "The image's base64 data is malformed.".to_string())?;
    Ok(data.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<Translated, Error> {
        chat_core::json::parse_json::<ChatRequest>(v.to_string().as_bytes())?.translate()
    }

    fn field(e: &Error) -> String {
        e.details()
            .get("field")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn a_plain_request_becomes_ollamas_body() {
        let t = parse(json!({
            "model": "llama3.2", "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}]}
            ],
            "temperature": 0.5, "max_tokens": 10, "max_completion_tokens": 20, "stop": "END",
            "seed": 7, "frequency_penalty": 1, "presence_penalty": -1, "top_p": 0.9,
            "user": "end-user-1", "logit_bias": {}, "some_new_field": true
        }))
        .expect("valid");
        assert!(!t.stream && !t.include_usage);
        assert_eq!(t.body["model"], "llama3.2");
        assert_eq!(t.body["stream"], true);
        assert_eq!(
            t.body["messages"][0],
            json!({"role": "system", "content": "Be brief."})
        );
        assert_eq!(
            t.body["messages"][1],
            json!({"role": "user", "content": "Hi\nthere"})
        );
        let o = &t.body["options"];
        assert_eq!(o["temperature"], 0.5);
        assert_eq!(o["num_predict"], 20);
        assert_eq!(o["stop"], json!(["END"]));
        assert_eq!(o["seed"], 7);
        assert_eq!(o["frequency_penalty"], 1.0);
        assert_eq!(o["presence_penalty"], -1.0);
        assert_eq!(o["top_p"], 0.9);
        assert!(t.body.get("format").is_none() && t.body.get("tools").is_none());
    }

    #[test]
    fn images_json_mode_and_streaming_options() {
        let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG fake");
        let t = parse(json!({
            "model": "m", "stream": true, "stream_options": {"include_usage": true},
            "response_format": {"type": "json_object"},
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{png}"), "detail": "low"}}
            ]}]
        }))
        .expect("valid");
        assert!(t.stream && t.include_usage);
        assert_eq!(t.body["format"], "json");
        assert_eq!(t.body["messages"][0]["images"], json!([png]));
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let t = parse(json!({
            "model": "m", "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}
        }))
        .expect("valid");
        assert_eq!(t.body["format"], schema);
    }

    #[test]
    fn a_tool_call_round_trip_names_the_function() {
        let t = parse(json!({
            "model": "m",
            "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18 C"}
            ]
        }))
        .expect("valid");
        assert_eq!(t.body["tools"][0]["function"]["name"], "weather");
        assert_eq!(
            t.body["messages"][1]["tool_calls"][0]["function"]["arguments"],
            json!({"city": "Paris"})
        );
        assert_eq!(
            t.body["messages"][2],
            json!({"role": "tool", "content": "18 C", "tool_name": "weather"})
        );
        let none = parse(json!({
            "model": "m", "tool_choice": "none", "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "f"}}]
        }))
        .expect("valid");
        assert!(none.body.get("tools").is_none());
    }

    #[test]
    fn what_cannot_be_honoured_is_a_400_naming_the_field() {
        let user = json!([{"role": "user", "content": "x"}]);
        let table = [
            (json!({"model": "m", "messages": user, "n": 2}), "n"),
            (json!({"model": "m", "messages": []}), "messages"),
            (json!({"model": "", "messages": user}), "model"),
            (json!({"messages": user}), "model"),
            (
                json!({"model": "m", "messages": [{"role": "robot", "content": "x"}]}),
                "messages[0].role",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user"}]}),
                "messages[0].content",
            ),
            (
                json!({"model": "m", "messages": user, "temperature": 3}),
                "temperature",
            ),
            (
                json!({"model": "m", "messages": user, "top_p": "high"}),
                "top_p",
            ),
            (
                json!({"model": "m", "messages": user, "stop": ["a", "b", "c", "d", "e"]}),
                "stop",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}),
                "messages[0].content[0].image_url.url",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,***"}}]}]}),
                "messages[0].content[0].image_url.url",
            ),
            (
                json!({"model": "m", "messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}),
                "messages[0].content",
            ),
            (
                json!({"model": "m", "messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]}),
                "messages[0].tool_call_id",
            ),
            (
                json!({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "not json"}}]}]}),
                "messages[0].tool_calls[0].function.arguments",
            ),
            (
                json!({"model": "m", "messages": user, "tools": [{"type": "retrieval"}]}),
                "tools[0].type",
            ),
            (
                json!({"model": "m", "messages": user, "tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}]}),
                "tools[0].function.parameters",
            ),
            (
                json!({"model": "m", "messages": user, "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": {"type": "function", "function": {"name": "g"}}}),
                "tool_choice",
            ),
            (
                json!({"model": "m", "messages": user, "response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}),
                "response_format.json_schema.schema",
            ),
        ];
        for (body, expected) in table {
            let e = parse(body.clone()).expect_err(&body.to_string());
            assert_eq!(e.status().as_u16(), 400, "{body}");
            assert_eq!(field(&e), expected, "{body}: {}", e.message());
        }
    }
}
