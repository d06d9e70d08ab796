//! What an answer is asked with: the chat context (system prompt and newest history within
//! limits) and the conversation's title.

use chat_domain::conversation::{MessageRole, MessageView, Status, Title};
use serde::Serialize;

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
            !(m.role == MessageRole::Assistant
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

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn context_keeps_the_newest_within_limits() {
        let h = vec![
            msg(MessageRole::User, "one", Status::Complete),
            msg(MessageRole::Assistant, "", Status::Error),
            msg(MessageRole::Assistant, "two", Status::Complete),
            msg(MessageRole::User, "three", Status::Complete),
            msg(MessageRole::Assistant, "four", Status::Incomplete),
            msg(MessageRole::User, "five", Status::Complete),
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

    fn msg(role: MessageRole, content: &str, status: Status) -> MessageView {
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
}
