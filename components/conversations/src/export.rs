//! Export formats: the JSON document (its types are shared with import) and Markdown, plus a
//! safe download file name.

use chat_domain::conversation::{ConversationView, MessageRole, MessageView, Status, Usage};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const FORMAT_VERSION: u32 = 1;

/// What export gives: `{version, exported_at, conversations: [...]}`.
#[derive(Debug, Serialize)]
pub struct ExportDocument {
    pub version: u32,
    pub exported_at: String,
    pub conversations: Vec<ExportedConversation>,
}

#[derive(Debug, Serialize)]
pub struct ExportedConversation {
    #[serde(flatten)]
    pub conversation: ConversationView,
    pub messages: Vec<MessageView>,
}

/// What import takes: the export document. Ids, times and counts in it are accepted (so an
/// export can be fed back unchanged) and replaced; everything else is validated.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "ids, times and counts are accepted so an export imports back unchanged, then replaced"
)]
pub struct ImportDocument {
    pub version: Option<u32>,
    pub exported_at: Option<String>,
    pub conversations: Vec<ImportedConversation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "ids, times and counts are accepted so an export imports back unchanged, then replaced"
)]
pub struct ImportedConversation {
    pub id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub system_prompt: Option<String>,
    #[serde(default)]
    pub options: Option<Value>,
    #[serde(default)]
    pub pinned: Option<bool>,
    #[serde(default)]
    pub archived: Option<bool>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub message_count: Option<u64>,
    pub snippet: Option<String>,
    pub messages: Vec<ImportedMessage>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "ids, times and counts are accepted so an export imports back unchanged, then replaced"
)]
pub struct ImportedMessage {
    pub id: Option<String>,
    pub conversation_id: Option<String>,
    pub role: MessageRole,
    pub content: String,
    #[serde(default)]
    pub thinking: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    pub status: Option<Status>,
    pub created_at: Option<String>,
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// A file name for a download: the title's letters, digits and dashes (ASCII, so every
/// browser and shell takes it), at most 60 characters, else `conversation`.
pub fn file_name(title: Option<&str>, extension: &str) -> String {
    let mut slug = String::new();
    for c in title.unwrap_or_default().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 60 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    let stem = if slug.is_empty() {
        "conversation"
    } else {
        slug
    };
    format!("{stem}.{extension}")
}

/// One conversation as Markdown: the title, its settings, then each message under its role.
pub fn markdown(c: &ConversationView, messages: &[MessageView]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# {}\n\n",
        c.title.as_deref().unwrap_or("Untitled conversation")
    ));
    let mut meta = vec![format!("- Created: {}", c.created_at)];
    if let Some(m) = &c.model {
        meta.push(format!("- Model: {m}"));
    }
    if !c.tags.is_empty() {
        meta.push(format!("- Tags: {}", c.tags.join(", ")));
    }
    if let Some(o) = &c.options {
        meta.push(format!("- Options: `{}`", Value::Object(Map::clone(o))));
    }
    out.push_str(&meta.join("\n"));
    out.push_str("\n\n");
    if let Some(p) = &c.system_prompt {
        out.push_str("## System prompt\n\n");
        out.push_str(p.trim_end());
        out.push_str("\n\n");
    }
    for m in messages {
        let who = match m.role {
            MessageRole::System => "System",
            MessageRole::User => "User",
            MessageRole::Assistant => "Assistant",
        };
        let mut heading = format!("## {who}");
        if let (MessageRole::Assistant, Some(model)) = (m.role, &m.model) {
            heading.push_str(&format!(" ({model})"));
        }
        out.push_str(&format!("{heading}\n\n_{}_", m.created_at));
        if m.status != Status::Complete {
            out.push_str(&format!(" · {}", m.status.as_str()));
        }
        out.push_str("\n\n");
        if let Some(t) = m.thinking.as_deref().filter(|t| !t.trim().is_empty()) {
            out.push_str("<details><summary>Thinking</summary>\n\n");
            out.push_str(t.trim_end());
            out.push_str("\n\n</details>\n\n");
        }
        out.push_str(m.content.trim_end());
        out.push_str("\n\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe() {
        assert_eq!(
            file_name(Some("Deploy to K8s: a how-to!"), "md"),
            "deploy-to-k8s-a-how-to.md"
        );
        assert_eq!(
            file_name(Some("../../etc/passwd"), "json"),
            "etc-passwd.json"
        );
        assert_eq!(file_name(Some("\"; rm -rf /\r\n"), "json"), "rm-rf.json");
        assert_eq!(file_name(Some("東京"), "md"), "conversation.md");
        assert_eq!(file_name(None, "md"), "conversation.md");
        assert!(file_name(Some(&"ab ".repeat(100)), "md").len() <= 63);
    }

    #[test]
    fn markdown_has_title_roles_and_contents() {
        let c = ConversationView {
            id: "c".into(),
            title: Some("Rust tips".into()),
            model: Some("llama3.2".into()),
            system_prompt: Some("Be brief.".into()),
            options: None,
            pinned: false,
            archived: false,
            tags: vec!["rust".into()],
            created_at: "2026-01-01T00:00:00.000Z".into(),
            updated_at: "2026-01-01T00:00:00.000Z".into(),
            message_count: 2,
            snippet: None,
        };
        let msg = |role, content: &str, status| MessageView {
            id: "m".into(),
            conversation_id: "c".into(),
            role,
            content: content.into(),
            thinking: None,
            model: Some("llama3.2".into()),
            status,
            created_at: "2026-01-01T00:00:01.000Z".into(),
            usage: None,
        };
        let md = markdown(
            &c,
            &[
                msg(MessageRole::User, "How do I borrow?", Status::Complete),
                msg(MessageRole::Assistant, "Use `&`.", Status::Incomplete),
            ],
        );
        assert!(md.starts_with("# Rust tips\n"));
        assert!(md.contains("## System prompt\n\nBe brief."));
        assert!(md.contains("## User\n\n_2026-01-01T00:00:01.000Z_\n\nHow do I borrow?"));
        assert!(md.contains(
            "## Assistant (llama3.2)\n\n_2026-01-01T00:00:01.000Z_ · incomplete\n\nUse `&`."
        ));
        assert!(md.contains("- Tags: rust"));
    }
}
