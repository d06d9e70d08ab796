//! A conversation's settings (what create, update and import write) and the `PATCH` that
//! changes some of them: validated whole before anything is written, then merged.

use crate::conversation::{ModelName, ModelOptions, SystemPrompt, Tags, Title};
use chat_core::error::{Error, Result};
use chat_core::json::Patch;
use serde::Deserialize;

/// A conversation's settings, all valid.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    pub title: Option<Title>,
    pub model: Option<ModelName>,
    pub system_prompt: Option<SystemPrompt>,
    pub options: Option<ModelOptions>,
    pub pinned: bool,
    pub archived: bool,
    pub tags: Tags,
}

impl Settings {
    /// The settings of a new conversation (create, import): absent means none.
    pub fn parse(
        title: Option<String>,
        model: Option<String>,
        system_prompt: Option<String>,
        options: Option<serde_json::Value>,
        tags: Option<Vec<String>>,
    ) -> Result<Self> {
        Ok(Self {
            title: title.as_deref().map(Title::parse).transpose()?.flatten(),
            model: model.as_deref().map(ModelName::parse).transpose()?,
            system_prompt: system_prompt
                .as_deref()
                .map(SystemPrompt::parse)
                .transpose()?
                .flatten(),
            options: options.map(ModelOptions::parse).transpose()?.flatten(),
            pinned: false,
            archived: false,
            tags: tags.map(Tags::parse).transpose()?.unwrap_or_default(),
        })
    }
}

/// The body of `PATCH /api/conversations/{id}` as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[serde(default)]
    pub title: Patch<String>,
    #[serde(default)]
    pub model: Patch<String>,
    #[serde(default)]
    pub system_prompt: Patch<String>,
    #[serde(default)]
    pub options: Patch<serde_json::Value>,
    #[serde(default)]
    pub pinned: Patch<bool>,
    #[serde(default)]
    pub archived: Patch<bool>,
    #[serde(default)]
    pub tags: Patch<Vec<String>>,
}

/// A valid change of settings: `None` leaves a field as it is; `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettingsPatch {
    title: Option<Option<Title>>,
    model: Option<Option<ModelName>>,
    system_prompt: Option<Option<SystemPrompt>>,
    options: Option<Option<ModelOptions>>,
    pinned: Option<bool>,
    archived: Option<bool>,
    tags: Option<Tags>,
}

/// A field that may be cleared: absent leaves it, `null` clears it, a value is parsed.
fn clearable<T, V>(
    p: Patch<T>,
    parse: impl FnOnce(T) -> Result<Option<V>>,
) -> Result<Option<Option<V>>> {
    match p {
        Patch::Missing => Ok(None),
        Patch::Null => Ok(Some(None)),
        Patch::Value(v) => parse(v).map(Some),
    }
}

/// A flag: absent leaves it; `null` is refused.
fn flag(p: Patch<bool>, field: &str) -> Result<Option<bool>> {
    match p {
        Patch::Missing => Ok(None),
        Patch::Null => Err(Error::validation(
            field,
            format!("`{field}` is true or false, not null."),
        )),
        Patch::Value(v) => Ok(Some(v)),
    }
}

impl SettingsPatch {
    /// Validates every field of the body; the first invalid one is the error.
    pub fn parse(b: PatchBody) -> Result<Self> {
        Ok(Self {
            title: clearable(b.title, |t| Title::parse(&t))?,
            model: clearable(b.model, |m| ModelName::parse(&m).map(Some))?,
            system_prompt: clearable(b.system_prompt, |p| SystemPrompt::parse(&p))?,
            options: clearable(b.options, ModelOptions::parse)?,
            tags: match b.tags {
                Patch::Missing => None,
                Patch::Null => Some(Tags::default()),
                Patch::Value(t) => Some(Tags::parse(t)?),
            },
            pinned: flag(b.pinned, "pinned")?,
            archived: flag(b.archived, "archived")?,
        })
    }

    /// `current` with this change made.
    pub fn apply(&self, current: &Settings) -> Settings {
        let mut s = current.clone();
        if let Some(t) = &self.title {
            s.title = t.clone();
        }
        if let Some(m) = &self.model {
            s.model = m.clone();
        }
        if let Some(p) = &self.system_prompt {
            s.system_prompt = p.clone();
        }
        if let Some(o) = &self.options {
            s.options = o.clone();
        }
        if let Some(p) = self.pinned {
            s.pinned = p;
        }
        if let Some(a) = self.archived {
            s.archived = a;
        }
        if let Some(t) = &self.tags {
            s.tags = t.clone();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::error::ErrorCode;

    fn body(json: serde_json::Value) -> PatchBody {
        serde_json::from_value(json).expect("a patch body")
    }

    fn current() -> Settings {
        Settings::parse(
            Some("Old".into()),
            Some("llama3.2".into()),
            Some("Be brief.".into()),
            Some(serde_json::json!({"temperature": 0.2})),
            Some(vec!["work".into()]),
        )
        .expect("valid settings")
    }

    #[test]
    fn an_absent_field_stays_null_clears_and_a_value_replaces() {
        let patch = SettingsPatch::parse(body(serde_json::json!({
            "title": "New", "model": null, "pinned": true, "tags": null
        })))
        .expect("valid patch");
        let after = patch.apply(&current());
        assert_eq!(after.title.as_ref().map(Title::as_str), Some("New"));
        assert_eq!(after.model, None);
        assert!(after.pinned);
        assert_eq!(after.tags, Tags::default());
        // Untouched.
        assert_eq!(after.system_prompt, current().system_prompt);
        assert_eq!(after.options, current().options);
        assert!(!after.archived);
    }

    #[test]
    fn an_empty_patch_changes_nothing() {
        let patch = SettingsPatch::parse(body(serde_json::json!({}))).expect("valid patch");
        assert_eq!(patch.apply(&current()), current());
    }

    #[test]
    fn invalid_fields_are_refused_by_name() {
        let cases = [
            (serde_json::json!({"pinned": null}), "pinned"),
            (serde_json::json!({"archived": null}), "archived"),
            (serde_json::json!({"title": "a\u{7}b"}), "title"),
            (serde_json::json!({"model": ""}), "model"),
            (
                serde_json::json!({"tags": (0..11).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
                "tags",
            ),
            (serde_json::json!({"options": [1]}), "options"),
        ];
        for (json, field) in cases {
            let e = SettingsPatch::parse(body(json.clone())).expect_err("invalid");
            assert_eq!(e.code(), ErrorCode::ValidationError, "{json}");
            assert_eq!(
                e.envelope("r")["error"]["details"]["field"],
                field,
                "{json}"
            );
        }
    }

    #[test]
    fn unknown_fields_do_not_parse() {
        assert!(serde_json::from_value::<PatchBody>(serde_json::json!({"nope": 1})).is_err());
    }
}
