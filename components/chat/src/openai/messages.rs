//! An OpenAI message in Ollama's terms: text and images (as `data:` URLs), tool calls and the
//! replies to them.

use super::chat::{Content, Message, Part, bad};
use base64::Engine;
use chat_core::error::Error;
use serde_json::{Value, json};

/// One message in Ollama's terms; `earlier` are the messages before it (a tool reply names
/// the function of the call it answers, as Ollama wants).
pub(super) fn to_ollama(m: &Message, i: usize, earlier: &[Message]) -> Result<Value, Error> {
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
