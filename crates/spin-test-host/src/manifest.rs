//! Reads the parts of a Spin manifest (`spin.toml`, manifest version 2) that the host needs:
//! application variables, HTTP triggers, and each component's source, stores, variables and
//! allowed outbound hosts.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    spin_manifest_version: u32,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, RawVariable>,
    #[serde(default)]
    trigger: RawTriggers,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Debug, Deserialize)]
struct RawApplication {
    name: String,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
struct RawTriggers {
    #[serde(default)]
    http: Vec<RawHttpTrigger>,
}

#[derive(Debug, Deserialize)]
struct RawHttpTrigger {
    route: RawRoute,
    component: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawRoute {
    Path(String),
    Private { private: bool },
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawVariable {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawComponent {
    source: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    sqlite_databases: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    build: Option<toml::Value>,
}

/// A parsed manifest, with paths resolved against the manifest's folder.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub dir: PathBuf,
    pub name: String,
    pub version: Option<String>,
    pub variables: BTreeMap<String, RawVariable>,
    pub routes: Vec<HttpRoute>,
    pub components: BTreeMap<String, ComponentSpec>,
}

#[derive(Debug, Clone)]
pub struct HttpRoute {
    /// The route as written (`/api/auth/...`), or `None` for `{ private = true }`.
    pub route: Option<String>,
    pub component: String,
}

#[derive(Debug, Clone)]
pub struct ComponentSpec {
    pub id: String,
    pub source: PathBuf,
    pub description: Option<String>,
    pub allowed_outbound_hosts: Vec<String>,
    pub key_value_stores: Vec<String>,
    pub sqlite_databases: Vec<String>,
    /// Component variables: name -> template over application variables.
    pub variables: BTreeMap<String, String>,
    pub environment: BTreeMap<String, String>,
    pub has_build: bool,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading manifest {}", path.display()))?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, &dir)
    }

    pub fn parse(text: &str, dir: &Path) -> Result<Self> {
        let raw: RawManifest = toml::from_str(text).context("parsing spin.toml")?;
        if raw.spin_manifest_version != 2 {
            bail!("only spin_manifest_version = 2 is supported");
        }
        for name in raw.variables.keys() {
            validate_id(name, '_', true).with_context(|| format!("variables: {name:?}"))?;
        }
        for (name, var) in &raw.variables {
            if var.required && var.default.is_some() {
                bail!("variable {name:?} cannot be both required and have a default");
            }
        }
        let mut components = BTreeMap::new();
        for (id, c) in raw.component {
            validate_id(&id, '-', false).with_context(|| format!("component: {id:?}"))?;
            for (name, template) in &c.variables {
                validate_id(name, '_', true)
                    .with_context(|| format!("component {id:?} variables: {name:?}"))?;
                for var in template_variables(template)? {
                    if !raw.variables.contains_key(&var) {
                        bail!(
                            "component {id:?} variable {name:?} refers to undefined application variable {var:?}"
                        );
                    }
                }
            }
            let source = dir.join(&c.source);
            components.insert(
                id.clone(),
                ComponentSpec {
                    id,
                    source,
                    description: c.description,
                    allowed_outbound_hosts: c.allowed_outbound_hosts,
                    key_value_stores: c.key_value_stores,
                    sqlite_databases: c.sqlite_databases,
                    variables: c.variables,
                    environment: c.environment,
                    has_build: c.build.is_some(),
                },
            );
        }
        let mut routes = Vec::new();
        for t in raw.trigger.http {
            if !components.contains_key(&t.component) {
                bail!("trigger refers to unknown component {:?}", t.component);
            }
            let route = match t.route {
                RawRoute::Path(p) => Some(p),
                RawRoute::Private { private: true } => None,
                RawRoute::Private { private: false } => {
                    bail!("route must be a string pattern or '{{ private = true }}'")
                }
            };
            routes.push(HttpRoute {
                route,
                component: t.component,
            });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            name: raw.application.name,
            version: raw.application.version,
            variables: raw.variables,
            routes,
            components,
        })
    }
}

/// Spin's rule for the names a manifest declares (spin-serde's `Id`): words separated by
/// `delim` (`_` for variables, `-` for component ids), each starting with an ASCII letter and
/// then letters and digits only, each all lowercase or all uppercase (`lower`: lowercase only).
/// So `ollama_url_2` is refused (the word `2`), though a guest may read such a name.
pub fn validate_id(id: &str, delim: char, lower: bool) -> Result<()> {
    if id.is_empty() {
        bail!("empty");
    }
    let wrong = if delim == '_' { '-' } else { '_' };
    if id.contains(wrong) {
        bail!("words must be separated with {delim:?}, not {wrong:?}");
    }
    for word in id.split(delim) {
        let mut chars = word.chars();
        let Some(first) = chars.next() else {
            bail!("{delim:?}-separated words must not be empty");
        };
        if !first.is_ascii_alphabetic() {
            bail!("{delim:?}-separated words must start with an ASCII letter; got {first:?}");
        }
        let upper = first.is_ascii_uppercase();
        for ch in chars {
            if !ch.is_ascii_alphanumeric() {
                bail!("{delim:?}-separated words may only contain alphanumeric ASCII; got {ch:?}");
            }
            if !ch.is_ascii_digit() && ch.is_ascii_uppercase() != upper {
                bail!(
                    "{delim:?}-separated words must be all lowercase or all UPPERCASE; got {word:?}"
                );
            }
        }
        if lower && upper {
            bail!("Lower-case identifiers must be all lowercase; got {id:?}");
        }
    }
    Ok(())
}

/// Spin's rule for a variable name a guest asks for (spin-expressions' `Key`): an ASCII
/// lowercase letter first, then lowercase letters, digits, and single underscores between them.
pub fn validate_variable_name(name: &str) -> Result<()> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.contains("__")
        && !name.ends_with('_');
    if ok {
        Ok(())
    } else {
        bail!("invalid variable name {name:?}")
    }
}

/// A template is literal text with `{{ name }}` expressions.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Lit(String),
    Var(String),
}

pub fn parse_template(template: &str) -> Result<Vec<Part>> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Lit(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .with_context(|| format!("unterminated expression in template {template:?}"))?;
        let name = after[..end].trim();
        validate_variable_name(name)?;
        parts.push(Part::Var(name.to_string()));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Lit(rest.to_string()));
    }
    Ok(parts)
}

pub fn template_variables(template: &str) -> Result<Vec<String>> {
    Ok(parse_template(template)?
        .into_iter()
        .filter_map(|p| match p {
            Part::Var(v) => Some(v),
            Part::Lit(_) => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_into_literals_and_variables() {
        let parts = parse_template("http://{{ host }}:{{port}}/x").unwrap_or_default();
        assert_eq!(
            parts,
            vec![
                Part::Lit("http://".into()),
                Part::Var("host".into()),
                Part::Lit(":".into()),
                Part::Var("port".into()),
                Part::Lit("/x".into()),
            ]
        );
    }

    #[test]
    fn variable_names_follow_spin_rules() {
        for good in ["a", "ollama_url", "x1_y2"] {
            assert!(validate_variable_name(good).is_ok(), "{good}");
        }
        for bad in ["", "1a", "A", "a__b", "a_", "a-b", "_a"] {
            assert!(validate_variable_name(bad).is_err(), "{bad}");
        }
    }

    /// Found under a real Spin, which refused the app's manifest while this host served it:
    /// `ollama_url_2 = ...` ("'_'-separated words must start with an ASCII letter; got '2'").
    #[test]
    fn declared_names_follow_spins_id_rules() {
        for good in ["ollama_url", "ollama_url_two", "x1_y2", "a"] {
            assert!(validate_id(good, '_', true).is_ok(), "{good}");
        }
        for bad in [
            "ollama_url_2",
            "",
            "a__b",
            "a_",
            "_a",
            "a-b",
            "Ab",
            "AB",
            "a_B",
        ] {
            assert!(validate_id(bad, '_', true).is_err(), "{bad}");
        }
        for good in ["chat", "kv-count-probe", "a1-b2", "HTTP-x"] {
            assert!(validate_id(good, '-', false).is_ok(), "{good}");
        }
        for bad in ["probe-2", "a_b", "Chat", ""] {
            assert!(validate_id(bad, '-', false).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_manifest_declaring_a_name_spin_refuses_does_not_load() {
        let text = "spin_manifest_version = 2\n[application]\nname = \"x\"\n\
                    [variables]\nollama_url_2 = { default = \"\" }\n";
        let err = Manifest::parse(text, Path::new("."))
            .err()
            .map(|e| format!("{e:#}"));
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("must start with an ASCII letter")),
            "{err:?}"
        );
    }
}
