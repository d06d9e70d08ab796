//! Ollama's wire format: NDJSON framing across arbitrary chunk boundaries, and the line
//! shapes of `/api/chat` and `/api/pull`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Splits a byte stream into lines, whatever the chunk boundaries (a chunk may hold half a
/// line, several lines, or cut a UTF-8 character in two).
#[derive(Debug, Default)]
pub struct LineBuffer {
    pending: Vec<u8>,
}

/// The longest line accepted; Ollama's lines are far shorter. Guards memory against a
/// broken upstream that never sends a newline.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// A line grew past [`MAX_LINE_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a line is longer than {MAX_LINE_BYTES} bytes")]
pub struct LineTooLong;

impl LineBuffer {
    /// Adds a chunk; returns the complete lines in it (without `\n`, empty lines skipped).
    /// `Err` when a line grows past [`MAX_LINE_BYTES`].
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Vec<u8>>, LineTooLong> {
        let mut lines = Vec::new();
        let mut rest = chunk;
        while let Some(i) = rest.iter().position(|b| *b == b'\n') {
            self.pending.extend_from_slice(&rest[..i]);
            let line = std::mem::take(&mut self.pending);
            if !line.iter().all(u8::is_ascii_whitespace) {
                lines.push(line);
            }
            rest = &rest[i + 1..];
        }
        self.pending.extend_from_slice(rest);
        if self.pending.len() > MAX_LINE_BYTES {
            return Err(LineTooLong);
        }
        Ok(lines)
    }

    /// What is left when the stream ends (a last line without `\n`).
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        let line = std::mem::take(&mut self.pending);
        (!line.iter().all(u8::is_ascii_whitespace)).then_some(line)
    }
}

/// One line of `/api/chat` (streaming or not).
#[derive(Debug, Clone, PartialEq)]
pub enum ChatLine {
    Chunk(ChatChunk),
    /// `{"error": "..."}`
    Error(String),
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ChatChunk {
    #[serde(default)]
    pub message: Option<ChunkMessage>,
    #[serde(default)]
    pub done: bool,
    #[serde(default)]
    pub done_reason: Option<String>,
    #[serde(default)]
    pub prompt_eval_count: Option<u64>,
    #[serde(default)]
    pub eval_count: Option<u64>,
    #[serde(default)]
    pub total_duration: Option<u64>,
    #[serde(default)]
    pub load_duration: Option<u64>,
    #[serde(default)]
    pub eval_duration: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ChunkMessage {
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub thinking: Option<String>,
    /// Function calls the model makes (`[{"function": {"name", "arguments": {...}}}]`).
    #[serde(default)]
    pub tool_calls: Vec<Value>,
}

impl ChatChunk {
    pub fn content(&self) -> &str {
        self.message.as_ref().map_or("", |m| m.content.as_str())
    }

    pub fn thinking(&self) -> &str {
        self.message
            .as_ref()
            .and_then(|m| m.thinking.as_deref())
            .unwrap_or("")
    }

    pub fn tool_calls(&self) -> &[Value] {
        self.message
            .as_ref()
            .map_or(&[], |m| m.tool_calls.as_slice())
    }

    /// Ollama's counts, from the final chunk.
    pub fn counts(&self) -> Option<Counts> {
        self.done.then(|| Counts {
            prompt_eval_count: self.prompt_eval_count.unwrap_or(0),
            eval_count: self.eval_count.unwrap_or(0),
            total_duration: self.total_duration.unwrap_or(0),
            load_duration: self.load_duration.unwrap_or(0),
            eval_duration: self.eval_duration.unwrap_or(0),
        })
    }
}

/// What an answer cost, as Ollama's final chunk counts it (durations in nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub prompt_eval_count: u64,
    pub eval_count: u64,
    pub total_duration: u64,
    pub load_duration: u64,
    pub eval_duration: u64,
}

/// Parses one line; `Err` when it is not JSON of either shape (a garbage line).
pub fn parse_chat_line(line: &[u8]) -> Result<ChatLine, String> {
    let v: Value = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    if let Some(e) = v.get("error") {
        return Ok(ChatLine::Error(
            e.as_str().map_or_else(|| e.to_string(), str::to_string),
        ));
    }
    if !v.is_object() {
        return Err("not an object".into());
    }
    serde_json::from_value(v)
        .map(ChatLine::Chunk)
        .map_err(|e| e.to_string())
}

/// One line of `/api/pull`, as the app's `progress` event gives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PullProgress {
    pub status: String,
    pub completed: Option<u64>,
    pub total: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PullLine {
    Progress(PullProgress),
    Error(String),
}

pub fn parse_pull_line(line: &[u8]) -> Result<PullLine, String> {
    let v: Value = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    if let Some(e) = v.get("error") {
        return Ok(PullLine::Error(
            e.as_str().map_or_else(|| e.to_string(), str::to_string),
        ));
    }
    let status = v
        .get("status")
        .and_then(Value::as_str)
        .ok_or("no status")?
        .to_string();
    Ok(PullLine::Progress(PullProgress {
        status,
        completed: v.get("completed").and_then(Value::as_u64),
        total: v.get("total").and_then(Value::as_u64),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn lines_survive_any_chunking() {
        let stream = "{\"a\":1}\n{\"b\":\"é\"}\n\n{\"c\":3}";
        let bytes = stream.as_bytes();
        for size in 1..=bytes.len() {
            let mut buf = LineBuffer::default();
            let mut lines = Vec::new();
            for chunk in bytes.chunks(size) {
                lines.extend(buf.push(chunk).unwrap_or_default());
            }
            lines.extend(buf.finish());
            let text: Vec<String> = lines
                .into_iter()
                .map(|l| String::from_utf8(l).unwrap_or_default())
                .collect();
            assert_eq!(
                text,
                ["{\"a\":1}", "{\"b\":\"é\"}", "{\"c\":3}"],
                "chunk size {size}"
            );
        }
    }

    #[test]
    fn endless_lines_are_refused() {
        let mut buf = LineBuffer::default();
        assert!(buf.push(&vec![b'x'; MAX_LINE_BYTES + 1]).is_err());
    }

    #[test]
    fn chat_lines() {
        let c = parse_chat_line(
            br#"{"model":"m","created_at":"t","message":{"role":"assistant","content":"Hi","thinking":"hmm"},"done":false}"#,
        );
        let Ok(ChatLine::Chunk(c)) = c else {
            panic!("{c:?}")
        };
        assert_eq!((c.content(), c.thinking(), c.done), ("Hi", "hmm", false));
        assert_eq!(c.counts(), None);
        let done = parse_chat_line(
            br#"{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":2000000000,"load_duration":1000000,"prompt_eval_count":10,"eval_count":50,"eval_duration":1000000000}"#,
        );
        let Ok(ChatLine::Chunk(d)) = done else {
            panic!("{done:?}")
        };
        let u = d.counts();
        assert_eq!(
            u.map(|u| (u.prompt_eval_count, u.eval_count)),
            Some((10, 50))
        );
        assert_eq!(u.map(|u| u.eval_duration), Some(1_000_000_000));
        assert_eq!(
            parse_chat_line(br#"{"error":"model crashed"}"#),
            Ok(ChatLine::Error("model crashed".into()))
        );
        assert!(parse_chat_line(b"<html>oops").is_err());
        assert!(parse_chat_line(b"[1,2]").is_err());
    }

    #[test]
    fn pull_lines() {
        assert_eq!(
            parse_pull_line(
                br#"{"status":"pulling abc","digest":"sha256:abc","total":100,"completed":5}"#
            ),
            Ok(PullLine::Progress(PullProgress {
                status: "pulling abc".into(),
                completed: Some(5),
                total: Some(100)
            }))
        );
        assert_eq!(
            parse_pull_line(br#"{"status":"success"}"#),
            Ok(PullLine::Progress(PullProgress {
                status: "success".into(),
                completed: None,
                total: None
            }))
        );
        assert_eq!(
            parse_pull_line(br#"{"error":"file does not exist"}"#),
            Ok(PullLine::Error("file does not exist".into()))
        );
    }
}
