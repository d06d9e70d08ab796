//! Talking to Ollama, the parts that need no network: NDJSON framing across arbitrary chunk
//! boundaries, the chunk shapes of `/api/chat` and `/api/pull`, the chat context (system
//! prompt + newest history within limits), titles, and server-sent event framing.

use crate::conversation::{MessageView, Role, Status, Title, Usage};
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

    /// Usage from the final chunk.
    pub fn usage(&self) -> Option<Usage> {
        self.done.then(|| {
            Usage::from_ollama(
                self.prompt_eval_count.unwrap_or(0),
                self.eval_count.unwrap_or(0),
                self.total_duration.unwrap_or(0),
                self.load_duration.unwrap_or(0),
                self.eval_duration.unwrap_or(0),
            )
        })
    }
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

/// A message of the context sent to Ollama.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContextMessage {
    pub role: &'static str,
    pub content: String,
}

/// The context for an answer: the system prompt, then the newest messages of `history`
/// (oldest first) within `max_messages` and `max_chars`. The last message is always kept
/// (it is what is being answered). Failed answers (`error`, or empty) are left out.
pub fn context(
    system_prompt: Option<&str>,
    history: &[MessageView],
    max_messages: usize,
    max_chars: usize,
) -> Vec<ContextMessage> {
    let usable: Vec<&MessageView> = history
        .iter()
        .filter(|m| {
            !(m.role == Role::Assistant
                && (m.status == Status::Error || m.content.trim().is_empty()))
        })
        .collect();
    let mut kept: Vec<&MessageView> = Vec::new();
    let mut chars = 0usize;
    for m in usable.iter().rev() {
        let n = m.content.chars().count();
        if !kept.is_empty() && (kept.len() >= max_messages || chars + n > max_chars) {
            break;
        }
        chars += n;
        kept.push(m);
    }
    kept.reverse();
    let mut out = Vec::with_capacity(kept.len() + 1);
    if let Some(p) = system_prompt.filter(|p| !p.trim().is_empty()) {
        out.push(ContextMessage {
            role: "system",
            content: p.to_string(),
        });
    }
    out.extend(kept.into_iter().map(|m| ContextMessage {
        role: m.role.as_str(),
        content: m.content.clone(),
    }));
    out
}

/// The instruction for a title, sent with the first exchange.
pub fn title_prompt(question: &str, answer: &str) -> String {
    let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    format!(
        "Write a title of at most six words for this conversation. Reply with the title only, \
         no quotes, no punctuation at the end.\n\nUser: {}\n\nAssistant: {}",
        cut(question, 1000),
        cut(answer, 1000)
    )
}

/// A title from a model's reply: first line, without quotes, markup or a final period, at
/// most 80 characters; `None` if nothing is left.
pub fn clean_title(reply: &str) -> Option<Title> {
    // Thinking models may wrap reasoning in <think>…</think>.
    let reply = match reply.rfind("</think>") {
        Some(i) => &reply[i + "</think>".len()..],
        None => reply,
    };
    let line = reply.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line = line.trim_start_matches(['#', '*', ' ']);
    let line = line.strip_prefix("Title:").unwrap_or(line);
    let line = line
        .trim()
        .trim_matches(|c| matches!(c, '"' | '\'' | '*' | '`' | '“' | '”'))
        .trim_end_matches(['.', ' '])
        .trim();
    let short: String = line.chars().take(80).collect();
    Title::lenient(&short)
}

/// A title from the user's first message, when the model gives none: its first words.
pub fn fallback_title(question: &str) -> Option<Title> {
    let words: Vec<&str> = question.split_whitespace().take(8).collect();
    let mut t = words.join(" ");
    if t.chars().count() > 60 {
        t = t
            .chars()
            .take(60)
            .collect::<String>()
            .trim_end()
            .to_string()
            + "…";
    }
    Title::lenient(&t)
}

/// One server-sent event: `event: name`, then the JSON on one `data:` line.
pub fn sse_event(name: &str, data: &impl Serialize) -> String {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "null".into());
    format!("event: {name}\ndata: {json}\n\n")
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
        assert_eq!(c.usage(), None);
        let done = parse_chat_line(
            br#"{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":2000000000,"load_duration":1000000,"prompt_eval_count":10,"eval_count":50,"eval_duration":1000000000}"#,
        );
        let Ok(ChatLine::Chunk(d)) = done else {
            panic!("{done:?}")
        };
        let u = d.usage();
        assert_eq!(u.as_ref().map(|u| u.completion_tokens), Some(50));
        assert_eq!(u.map(|u| u.tokens_per_second), Some(50.0));
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

    fn msg(role: Role, content: &str, status: Status) -> MessageView {
        MessageView {
            id: "m".into(),
            conversation_id: "c".into(),
            role,
            content: content.into(),
            thinking: None,
            model: None,
            status,
            created_at: "t".into(),
            usage: None,
        }
    }

    #[test]
    fn context_keeps_the_newest_within_limits() {
        let h = vec![
            msg(Role::User, "one", Status::Complete),
            msg(Role::Assistant, "", Status::Error),
            msg(Role::Assistant, "two", Status::Complete),
            msg(Role::User, "three", Status::Complete),
            msg(Role::Assistant, "four", Status::Incomplete),
            msg(Role::User, "five", Status::Complete),
        ];
        let c = context(Some("sys"), &h, 3, 10_000);
        let text: Vec<(&str, &str)> = c.iter().map(|m| (m.role, m.content.as_str())).collect();
        assert_eq!(
            text,
            [
                ("system", "sys"),
                ("user", "three"),
                ("assistant", "four"),
                ("user", "five")
            ]
        );
        let c = context(None, &h, 100, 9);
        let text: Vec<&str> = c.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(text, ["four", "five"]);
        // The question itself is kept even when it alone is over the limit.
        let c = context(None, &h, 100, 1);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn titles_are_cleaned() {
        let t = |s: &str| clean_title(s).map(|t| t.as_str().to_string());
        assert_eq!(
            t("\"Deploying Rust to Kubernetes.\"\n"),
            Some("Deploying Rust to Kubernetes".into())
        );
        assert_eq!(
            t("<think>x</think>\n\n**Title: Pasta sauces**"),
            Some("Pasta sauces".into())
        );
        assert_eq!(t("  \n "), None);
        assert_eq!(
            t(&"word ".repeat(50)).map(|s| s.chars().count() <= 80),
            Some(true)
        );
        let f = fallback_title("How do I   deploy a Spin app to Kubernetes with SpinKube today?");
        assert_eq!(
            f.map(|t| t.as_str().to_string()),
            Some("How do I deploy a Spin app to".into())
        );
    }

    #[test]
    fn sse_events_are_framed() {
        assert_eq!(
            sse_event("delta", &serde_json::json!({"content": "a\nb"})),
            "event: delta\ndata: {\"content\":\"a\\nb\"}\n\n"
        );
    }
}
