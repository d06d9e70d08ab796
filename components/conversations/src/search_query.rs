//! Full-text search queries. What a user types is never passed to FTS5 as query syntax: it is
//! cut into words the way FTS5's `unicode61` tokenizer cuts text, and each word is quoted, so
//! `"`, `*`, `:`, `NEAR`, `AND`, `(` and friends are just text. Every word must match.

use chat_core::error::{Error, Result};

pub const QUERY_MAX_CHARS: usize = 500;
pub const QUERY_MAX_WORDS: usize = 32;

/// A search, parsed: the words to match, at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    words: Vec<String>,
}

impl SearchQuery {
    /// `Ok(None)` when the text holds no word at all (only punctuation or spaces): such a
    /// search matches nothing rather than erroring.
    pub fn parse(raw: &str) -> Result<Option<Self>> {
        if raw.chars().count() > QUERY_MAX_CHARS {
            return Err(Error::validation(
                "q",
                "A search has at most 500 characters.",
            ));
        }
        let mut words: Vec<String> = Vec::new();
        for w in raw.split(|c: char| !c.is_alphanumeric()) {
            if !w.is_empty() && !words.iter().any(|x| x == w) {
                words.push(w.to_string());
            }
        }
        if words.len() > QUERY_MAX_WORDS {
            return Err(Error::validation("q", "A search has at most 32 words."));
        }
        Ok((!words.is_empty()).then_some(Self { words }))
    }

    /// The FTS5 expression for `column`, limited to one owner's rows through the `user_id`
    /// column: `user_id : "u" AND content : ("w1" "w2")`.
    pub fn fts5(&self, owner: &str, column: &str) -> String {
        let words: Vec<String> = self.words.iter().map(|w| quote(w)).collect();
        format!(
            "user_id : {} AND {column} : ({})",
            quote(owner),
            words.join(" ")
        )
    }
}

/// An FTS5 string literal: double quotes, inner quotes doubled.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_and_syntax_is_text() {
        let q = SearchQuery::parse(r#"deploy "helm" AND k8s* NEAR(x) col:umn"#)
            .ok()
            .flatten();
        assert_eq!(
            q.map(|q| q.fts5("u1", "content")),
            Some(
                r#"user_id : "u1" AND content : ("deploy" "helm" "AND" "k8s" "NEAR" "x" "col" "umn")"#
                    .into()
            )
        );
    }

    #[test]
    fn punctuation_only_matches_nothing() {
        for q in ["", "   ", "\"", "*", "()", "-:^", "\"\"\"\""] {
            assert_eq!(SearchQuery::parse(q).ok(), Some(None), "{q:?}");
        }
    }

    #[test]
    fn unicode_words_survive() {
        let q = SearchQuery::parse("Größe café 東京").ok().flatten();
        assert_eq!(q.map(|q| q.words.len()), Some(3));
    }

    #[test]
    fn limits() {
        assert!(SearchQuery::parse(&"a".repeat(501)).is_err());
        let many: Vec<String> = (0..33).map(|i| format!("w{i}")).collect();
        assert!(SearchQuery::parse(&many.join(" ")).is_err());
    }
}
