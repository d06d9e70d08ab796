//! Conversations and messages: the validated fields of a conversation (API.md's limits), the
//! message vocabulary, and the API's JSON views. Parsed once at the boundary, so the code
//! behind it only ever sees valid values.

use chat_core::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const TITLE_MAX_CHARS: usize = 200;
pub const SYSTEM_PROMPT_MAX_CHARS: usize = 8_000;
pub const TAGS_MAX: usize = 10;
pub const TAG_MAX_CHARS: usize = 32;
pub const MODEL_MAX_CHARS: usize = 200;
pub const OPTIONS_MAX_BYTES: usize = 4_096;

/// A conversation title: trimmed, 1..=200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    /// An empty or blank title means "no title".
    pub fn parse(raw: &str) -> Result<Option<Self>> {
        let t = raw.trim();
        if t.is_empty() {
            return Ok(None);
        }
        if t.chars().count() > TITLE_MAX_CHARS || t.chars().any(char::is_control) {
            return Err(Error::validation(
                "title",
                "A title has at most 200 characters and no control characters.",
            )
            .detail("max_chars", TITLE_MAX_CHARS));
        }
        Ok(Some(Self(t.to_string())))
    }

    /// A title made by the app (e.g. from a model's suggestion): cleaned up and cut to fit
    /// rather than refused.
    pub fn lenient(raw: &str) -> Option<Self> {
        let cleaned: String = raw
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let cleaned = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
        let cut: String = cleaned.chars().take(TITLE_MAX_CHARS).collect();
        Self::parse(&cut).ok().flatten()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An Ollama model name such as `llama3.2:1b` or `hf.co/org/repo:Q4_K_M`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelName(String);

impl ModelName {
    pub fn parse(raw: &str) -> Result<Self> {
        Self::parse_field(raw, "model")
    }

    pub fn parse_field(raw: &str, field: &str) -> Result<Self> {
        let t = raw.trim();
        let ok = !t.is_empty()
            && t.chars().count() <= MODEL_MAX_CHARS
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._:/@+-".contains(c));
        if !ok {
            return Err(Error::validation(
                field,
                "A model name has 1 to 200 of the characters A-Z a-z 0-9 . _ : / @ + -.",
            ));
        }
        Ok(Self(t.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A system prompt: at most 8,000 characters; blank means none.
/// Free text (a message, a system prompt) may hold any character but NUL and the other
/// control characters: tabs and line breaks are text, the rest is binary garbage or an attack
/// on whatever displays it.
pub fn is_free_text(s: &str) -> bool {
    !s.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// Checks a message's content: not blank, free text.
pub fn check_content(raw: &str, field: &str) -> Result<()> {
    if raw.trim().is_empty() {
        return Err(Error::validation(field, "The message is empty."));
    }
    if !is_free_text(raw) {
        return Err(Error::validation(
            field,
            "A message has no control characters other than tabs and line breaks.",
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemPrompt(String);

impl SystemPrompt {
    pub fn parse(raw: &str) -> Result<Option<Self>> {
        if raw.trim().is_empty() {
            return Ok(None);
        }
        if raw.chars().count() > SYSTEM_PROMPT_MAX_CHARS {
            return Err(Error::validation(
                "system_prompt",
                "A system prompt has at most 8,000 characters.",
            )
            .detail("max_chars", SYSTEM_PROMPT_MAX_CHARS));
        }
        if !is_free_text(raw) {
            return Err(Error::validation(
                "system_prompt",
                "A system prompt has no control characters other than tabs and line breaks.",
            ));
        }
        Ok(Some(Self(raw.to_string())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 2^53: the largest magnitude up to which every integer is exact in a JSON double.
const MAX_EXACT_NUMBER: f64 = 9_007_199_254_740_992.0;

/// The JSON type Ollama requires of an option it knows.
#[derive(Debug, Clone, Copy, PartialEq)]
enum OptionKind {
    Number,
    Boolean,
    Strings,
}

impl OptionKind {
    fn admits(self, value: &Value) -> bool {
        match self {
            Self::Number => value.is_number(),
            Self::Boolean => value.is_boolean(),
            Self::Strings => value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string)),
        }
    }

    /// What a value must be, for a person.
    fn described(self) -> &'static str {
        match self {
            Self::Number => "a number",
            Self::Boolean => "true or false",
            Self::Strings => "a list of strings",
        }
    }

    /// Its JSON Schema type (a list of strings is an `array`).
    fn json_type(self) -> &'static str {
        match self {
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Strings => "array",
        }
    }
}

/// Ollama's options (`api.Options` and its runner's), current and recently removed, with the
/// type each must have. Ollama refuses a whole request (`500`, "option \"temperature\" must
/// be of type float32") when one of them has another type, so a conversation that kept such
/// an option would fail every answer; it is refused here instead. Integers may be any number
/// (Ollama truncates). Options Ollama does not know pass through: it ignores them.
const KNOWN_OPTIONS: &[(&str, OptionKind)] = {
    use OptionKind::{Boolean, Number, Strings};
    &[
        ("num_keep", Number),
        ("seed", Number),
        ("num_predict", Number),
        ("top_k", Number),
        ("top_p", Number),
        ("min_p", Number),
        ("typical_p", Number),
        ("repeat_last_n", Number),
        ("temperature", Number),
        ("repeat_penalty", Number),
        ("presence_penalty", Number),
        ("frequency_penalty", Number),
        ("mirostat", Number),
        ("mirostat_tau", Number),
        ("mirostat_eta", Number),
        ("tfs_z", Number),
        ("num_ctx", Number),
        ("num_batch", Number),
        ("num_gpu", Number),
        ("main_gpu", Number),
        ("num_thread", Number),
        ("use_mmap", Boolean),
        ("use_mlock", Boolean),
        ("numa", Boolean),
        ("low_vram", Boolean),
        ("vocab_only", Boolean),
        ("f16_kv", Boolean),
        ("penalize_newline", Boolean),
        ("stop", Strings),
    ]
};

/// The options Ollama knows, each with the JSON Schema type it must have (`number`,
/// `boolean`, or `array` of strings): what `/openapi.json` must say of `ModelOptions`.
pub fn known_option_types() -> impl Iterator<Item = (&'static str, &'static str)> {
    KNOWN_OPTIONS
        .iter()
        .map(|(name, kind)| (*name, kind.json_type()))
}

/// `Some(what it must be)` when `value` is not of the type Ollama requires of option `key`.
fn wrong_type(key: &str, value: &Value) -> Option<&'static str> {
    let (_, kind) = KNOWN_OPTIONS.iter().find(|(k, _)| *k == key)?;
    (!kind.admits(value)).then_some(kind.described())
}

/// Ollama `options`: a JSON object of at most 4 KiB. Values must be scalars or arrays of
/// scalars, and an option Ollama knows must have the type it requires ([`KNOWN_OPTIONS`]);
/// other keys pass through (the list grows with Ollama releases).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOptions(Map<String, Value>);

impl ModelOptions {
    /// `null` and `{}` mean "no options".
    pub fn parse(raw: Value) -> Result<Option<Self>> {
        Self::parse_field(raw, "options")
    }

    pub fn parse_field(raw: Value, field: &str) -> Result<Option<Self>> {
        let map = match raw {
            Value::Null => return Ok(None),
            Value::Object(m) => m,
            _ => {
                return Err(Error::validation(
                    field,
                    "`options` must be a JSON object, e.g. {\"temperature\": 0.2}.",
                ));
            }
        };
        if map.is_empty() {
            return Ok(None);
        }
        // Numbers beyond 2^53 are not exact in JSON doubles (a huge `seed` would be silently
        // rounded): refuse them rather than pass Ollama something else than was sent.
        let number_ok = |n: &serde_json::Number| {
            n.as_f64()
                .is_some_and(|f| f.is_finite() && f.abs() <= MAX_EXACT_NUMBER)
        };
        let scalar = |v: &Value| match v {
            Value::Number(n) => number_ok(n),
            Value::String(s) => is_free_text(s),
            Value::Bool(_) => true,
            _ => false,
        };
        for (k, v) in &map {
            let ok = scalar(v) || matches!(v, Value::Array(items) if items.iter().all(scalar));
            if k.is_empty() || !is_free_text(k) || !ok {
                return Err(Error::validation(
                    format!("{field}.{k}"),
                    "Each option is a number (at most 2^53 in size), string, boolean or a list of them.",
                ));
            }
            if let Some(expected) = wrong_type(k, v) {
                return Err(Error::validation(
                    format!("{field}.{k}"),
                    format!("Ollama's option `{k}` must be {expected}."),
                ));
            }
        }
        if serde_json::to_vec(&map).map_or(usize::MAX, |b| b.len()) > OPTIONS_MAX_BYTES {
            return Err(Error::validation(field, "`options` is larger than 4 KiB."));
        }
        Ok(Some(Self(map)))
    }

    /// Stored form: a JSON object. Options that no longer pass today's rules read as none
    /// (say, a mistyped `temperature` stored before Ollama's types were checked: sent as it
    /// is, it would fail every answer of the conversation).
    pub fn from_stored(json: &str) -> Option<Self> {
        let map = serde_json::from_str::<Map<String, Value>>(json).ok()?;
        Self::parse(Value::Object(map)).ok().flatten()
    }

    pub fn to_json(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// `self` overridden key by key by `over` (a request's options over a conversation's).
    pub fn merged(base: Option<&Self>, over: Option<&Self>) -> Option<Self> {
        let mut map = base.map(|b| b.0.clone()).unwrap_or_default();
        if let Some(o) = over {
            map.extend(o.0.clone());
        }
        (!map.is_empty()).then_some(Self(map))
    }
}

/// Tags: at most 10, each 1..=32 characters after trimming, no control characters;
/// duplicates are dropped (first spelling kept), order is kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tags(Vec<String>);

impl Tags {
    pub fn parse(raw: Vec<String>) -> Result<Self> {
        let mut tags: Vec<String> = Vec::new();
        for (i, t) in raw.iter().enumerate() {
            let t = t.trim();
            if t.is_empty() || t.chars().count() > TAG_MAX_CHARS || t.chars().any(char::is_control)
            {
                return Err(Error::validation(
                    format!("tags[{i}]"),
                    "A tag has 1 to 32 characters and no control characters.",
                ));
            }
            if !tags.iter().any(|x| x == t) {
                tags.push(t.to_string());
            }
        }
        if tags.len() > TAGS_MAX {
            return Err(
                Error::validation("tags", "A conversation has at most 10 tags.")
                    .detail("max_items", TAGS_MAX),
            );
        }
        Ok(Self(tags))
    }

    /// Stored form: a JSON array of strings.
    pub fn from_stored(json: &str) -> Self {
        Self(serde_json::from_str(json).unwrap_or_default())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "[]".into())
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    System,
    User,
    Assistant,
}

impl MessageRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageRole::System => "system",
            MessageRole::User => "user",
            MessageRole::Assistant => "assistant",
        }
    }

    pub fn from_stored(s: &str) -> Self {
        match s {
            "system" => MessageRole::System,
            "user" => MessageRole::User,
            _ => MessageRole::Assistant,
        }
    }
}

/// Whether a message is whole: `incomplete` is a partial answer (stopped, failed mid-way or
/// cut off), `error` an answer that never started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Complete,
    Incomplete,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Complete => "complete",
            Status::Incomplete => "incomplete",
            Status::Error => "error",
        }
    }

    pub fn from_stored(s: &str) -> Self {
        match s {
            "complete" => Status::Complete,
            "error" => Status::Error,
            _ => Status::Incomplete,
        }
    }
}

/// Token counts and timings from Ollama's final chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_duration_ms: f64,
    pub load_duration_ms: f64,
    pub eval_duration_ms: f64,
    pub tokens_per_second: f64,
}

impl Usage {
    /// From Ollama's nanosecond figures.
    pub fn from_ollama(
        prompt_eval_count: u64,
        eval_count: u64,
        total_duration_ns: u64,
        load_duration_ns: u64,
        eval_duration_ns: u64,
    ) -> Self {
        let ms = |ns: u64| (ns as f64 / 1_000.0).round() / 1_000.0;
        let tps = if eval_duration_ns > 0 {
            let v = eval_count as f64 * 1e9 / eval_duration_ns as f64;
            (v * 100.0).round() / 100.0
        } else {
            0.0
        };
        Self {
            prompt_tokens: prompt_eval_count,
            completion_tokens: eval_count,
            total_duration_ms: ms(total_duration_ns),
            load_duration_ms: ms(load_duration_ns),
            eval_duration_ms: ms(eval_duration_ns),
            tokens_per_second: tps,
        }
    }

    /// Checks imported figures: finite and not negative.
    pub fn is_plausible(&self) -> bool {
        [
            self.total_duration_ms,
            self.load_duration_ms,
            self.eval_duration_ms,
            self.tokens_per_second,
        ]
        .iter()
        .all(|v| v.is_finite() && *v >= 0.0)
    }
}

/// The conversation object of the API.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationView {
    pub id: String,
    pub title: Option<String>,
    pub model: Option<String>,
    pub system_prompt: Option<String>,
    pub options: Option<Map<String, Value>>,
    pub pinned: bool,
    pub archived: bool,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub message_count: i64,
    /// Only in search results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
}

/// The message object of the API.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: String,
    pub conversation_id: String,
    pub role: MessageRole,
    pub content: String,
    pub thinking: Option<String>,
    pub model: Option<String>,
    pub status: Status,
    pub created_at: String,
    pub usage: Option<Usage>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::error::ErrorCode;
    use serde_json::json;

    fn field_of(e: Error) -> (ErrorCode, String) {
        let body = e.envelope("r");
        (
            e.code(),
            body["error"]["details"]["field"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    }

    #[test]
    fn titles() {
        assert_eq!(
            Title::parse("  Hello  ").ok().flatten().map(|t| t.0),
            Some("Hello".into())
        );
        assert_eq!(Title::parse("   ").ok(), Some(None));
        assert!(Title::parse(&"x".repeat(200)).is_ok());
        for bad in ["x".repeat(201), "a\nb".into(), "tab\there".into()] {
            let e = Title::parse(&bad).err().map(field_of);
            assert_eq!(
                e,
                Some((ErrorCode::ValidationError, "title".into())),
                "{bad:?}"
            );
        }
        assert_eq!(
            Title::lenient("  \"A\ntitle\"  ").map(|t| t.0),
            Some("\"A title\"".into())
        );
        assert_eq!(
            Title::lenient(&"é".repeat(500)).map(|t| t.0.chars().count()),
            Some(200)
        );
    }

    #[test]
    fn model_names() {
        for ok in [
            "llama3.2",
            "llama3.2:1b",
            "hf.co/org/repo:Q4_K_M",
            "qwen3:0.6b",
        ] {
            assert!(ModelName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", " ", "a b", "x;rm", &"m".repeat(201), "ünï"] {
            assert!(ModelName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn system_prompts() {
        assert!(SystemPrompt::parse(&"é".repeat(8000)).is_ok());
        assert!(SystemPrompt::parse(&"é".repeat(8001)).is_err());
        assert_eq!(SystemPrompt::parse(" \n").ok(), Some(None));
    }

    #[test]
    fn options() {
        assert_eq!(ModelOptions::parse(json!(null)).ok(), Some(None));
        assert_eq!(ModelOptions::parse(json!({})).ok(), Some(None));
        let o = ModelOptions::parse(json!({"temperature": 0.2, "stop": ["\n"]}))
            .ok()
            .flatten();
        assert_eq!(
            o.map(|o| o.to_json()),
            Some(r#"{"stop":["\n"],"temperature":0.2}"#.into())
        );
        for bad in [
            json!(1),
            json!("x"),
            json!([1]),
            json!({"a": {"b": 1}}),
            json!({"a": [[1]]}),
        ] {
            assert!(ModelOptions::parse(bad.clone()).is_err(), "{bad}");
        }
        // Options Ollama knows must have its types (it refuses the request otherwise);
        // options it does not know pass through as they are.
        for (bad, field) in [
            (json!({"temperature": "hot"}), "options.temperature"),
            (json!({"top_k": true}), "options.top_k"),
            (json!({"num_ctx": "4096"}), "options.num_ctx"),
            (json!({"use_mmap": 1}), "options.use_mmap"),
            (json!({"stop": "\n"}), "options.stop"),
            (json!({"stop": ["a", 1]}), "options.stop"),
        ] {
            let e = ModelOptions::parse(bad.clone()).err();
            assert_eq!(
                e.map(|e| (e.code(), e.details().get("field").cloned())),
                Some((ErrorCode::ValidationError, Some(json!(field)))),
                "{bad}"
            );
        }
        let fine = json!({"temperature": 1, "num_ctx": 4096.0, "use_mmap": false,
                          "stop": [], "my_own_knob": "x"});
        assert!(ModelOptions::parse(fine).is_ok());
        // Stored before the check: read as none rather than sent to fail every answer.
        assert_eq!(ModelOptions::from_stored(r#"{"temperature": "hot"}"#), None);
        assert_eq!(
            ModelOptions::from_stored(r#"{"temperature": 0.5}"#).map(|o| o.to_json()),
            Some(r#"{"temperature":0.5}"#.into())
        );
        let big: Map<String, Value> = (0..500).map(|i| (format!("k{i}"), json!(i))).collect();
        assert!(ModelOptions::parse(Value::Object(big)).is_err());
        let base = ModelOptions::parse(json!({"temperature": 0.2, "seed": 1}))
            .ok()
            .flatten();
        let over = ModelOptions::parse(json!({"temperature": 0.9}))
            .ok()
            .flatten();
        let m = ModelOptions::merged(base.as_ref(), over.as_ref());
        assert_eq!(
            m.map(|m| m.to_json()),
            Some(r#"{"seed":1,"temperature":0.9}"#.into())
        );
    }

    #[test]
    fn tags() {
        let t = Tags::parse(vec![" work ".into(), "work".into(), "Rust".into()]);
        assert_eq!(
            t.ok().map(|t| t.0),
            Some(vec!["work".into(), "Rust".into()])
        );
        let e = Tags::parse(vec!["ok".into(), "".into()])
            .err()
            .map(field_of);
        assert_eq!(e, Some((ErrorCode::ValidationError, "tags[1]".into())));
        assert!(Tags::parse(vec!["x".repeat(33)]).is_err());
        assert!(Tags::parse((0..11).map(|i| format!("t{i}")).collect()).is_err());
        assert!(Tags::parse((0..10).map(|i| format!("t{i}")).collect()).is_ok());
        assert_eq!(Tags::from_stored(r#"["a","b"]"#).as_slice(), ["a", "b"]);
    }

    #[test]
    fn usage_from_ollama_nanoseconds() {
        let u = Usage::from_ollama(26, 50, 2_500_000_000, 5_123_456, 1_000_000_000);
        assert_eq!(u.total_duration_ms, 2500.0);
        assert_eq!(u.load_duration_ms, 5.123);
        assert_eq!(u.tokens_per_second, 50.0);
        assert_eq!(Usage::from_ollama(1, 0, 0, 0, 0).tokens_per_second, 0.0);
    }

    #[test]
    fn ids() {
        assert!(chat_core::ids::is_id(&chat_core::ids::new_id()));
        assert!(!chat_core::ids::is_id("../etc") && !chat_core::ids::is_id(""));
    }
}
