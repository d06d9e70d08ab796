//! Ollama's installed models as OpenAI's model objects.

use serde_json::{Value, json};

/// One model object: `{"id", "object": "model", "created", "owned_by"}`.
pub fn model(name: &str, modified_at: Option<&str>) -> Value {
    json!({
        "id": name,
        "object": "model",
        "created": modified_at.and_then(unix_seconds).unwrap_or(0),
        "owned_by": owner(name),
    })
}

/// `{"object": "list", "data": [...]}`.
pub fn list(models: impl IntoIterator<Item = Value>) -> Value {
    json!({"object": "list", "data": models.into_iter().collect::<Vec<_>>()})
}

/// The namespace a model was pulled from (`hf.co/bartowski/x` → `bartowski`); Ollama's own
/// library otherwise.
fn owner(name: &str) -> &str {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.len() {
        0 | 1 => "library",
        n => parts[n - 2],
    }
}

/// Seconds since the epoch of an RFC 3339 time with any offset and fraction (Ollama writes
/// its local offset: `2024-05-01T10:00:00.123456789-07:00`).
fn unix_seconds(s: &str) -> Option<i64> {
    let base = chat_core::time::to_unix(&format!("{}Z", s.get(..19)?))?;
    let rest = s.get(19..)?;
    let rest = rest.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match rest.as_bytes().first() {
        None | Some(b'Z') | Some(b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let hours: i64 = rest.get(1..3)?.parse().ok()?;
            let minutes: i64 = rest.get(4..6)?.parse().ok()?;
            let secs = hours * 3600 + minutes * 60;
            if *sign == b'+' { secs } else { -secs }
        }
        Some(_) => return None,
    };
    Some(base - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_look_like_openais() {
        let m = model("llama3.2:1b", Some("2025-10-01T12:00:00.000000000Z"));
        assert_eq!(
            m,
            json!({"id": "llama3.2:1b", "object": "model", "created": 1_759_320_000, "owned_by": "library"})
        );
        assert_eq!(model("hf.co/bartowski/Q:Q4", None)["owned_by"], "bartowski");
        assert_eq!(model("me/mine", Some("junk"))["created"], 0);
        assert_eq!(list([m.clone()])["data"][0], m);
    }

    #[test]
    fn ollamas_local_offsets_are_understood() {
        assert_eq!(
            unix_seconds("2025-10-01T05:00:00.123456789-07:00"),
            Some(1_759_320_000)
        );
        assert_eq!(
            unix_seconds("2025-10-01T14:00:00+02:00"),
            Some(1_759_320_000)
        );
        assert_eq!(unix_seconds("2025-10-01T12:00:00Z"), Some(1_759_320_000));
        assert_eq!(unix_seconds("yesterday"), None);
    }
}
