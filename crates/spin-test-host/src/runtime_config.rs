//! Spin runtime configuration (`--runtime-config-file`): key-value stores, SQLite databases,
//! variable providers and the state directory, with Spin's path rules: a `spin` key-value
//! store's relative `path` is resolved from the config file's folder, a `spin` SQLite
//! database's from the working directory. Unknown top-level keys are rejected, as Spin does.
//! The local (`spin`) backends exist here, libSQL (`type = "libsql"`, `url`, `token`) for
//! SQLite, through Spin's own client, and Redis (`type = "redis"`, `url`) for key-value, through
//! the client Spin's key-value-redis uses.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRuntimeConfig {
    #[serde(default)]
    key_value_store: BTreeMap<String, RawStore>,
    #[serde(default)]
    sqlite_database: BTreeMap<String, RawStore>,
    #[serde(default)]
    variables_provider: Vec<RawProvider>,
    #[serde(default)]
    state_dir: Option<String>,
    #[serde(default)]
    log_dir: Option<String>,
    #[serde(default)]
    max_instance_memory: Option<u64>,
    #[serde(default)]
    outbound_http: Option<RawOutboundHttp>,
}

/// `[outbound_http]`. As in Spin, a present table without `connection_pooling` turns pooling
/// off (the key defaults to false); no table keeps it on.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutboundHttp {
    #[serde(default)]
    connection_pooling: bool,
    #[serde(default)]
    max_connections: Option<usize>,
}

#[derive(Debug, Deserialize)]
struct RawStore {
    #[serde(rename = "type")]
    kind: String,
    #[serde(flatten)]
    rest: toml::Table,
}

#[derive(Debug, Deserialize)]
struct RawProvider {
    #[serde(rename = "type")]
    kind: String,
    #[serde(flatten)]
    rest: toml::Table,
}

/// Where a SQLite database lives.
#[derive(Debug, Clone, PartialEq)]
pub enum DatabaseConfig {
    /// `type = "spin"`: a file, or memory (`None`).
    Spin(StorePath),
    /// `type = "libsql"`.
    LibSql { url: String, token: String },
}

/// Where a store lives: a file, or memory (`None`).
pub type StorePath = Option<PathBuf>;

/// Where a key-value store lives.
#[derive(Debug, Clone, PartialEq)]
pub enum KvConfig {
    /// `type = "spin"`.
    Spin(StorePath),
    /// `type = "redis"`: a Redis server's URL.
    Redis(String),
}

#[derive(Debug, Clone)]
pub enum VariablesProvider {
    /// `SPIN_VARIABLE_<NAME>` (or another prefix) from the environment.
    Env {
        prefix: String,
        /// A `.env` file merged under the environment (Spin's `dotenv_path`).
        dotenv: Option<PathBuf>,
    },
    Static {
        values: BTreeMap<String, String>,
    },
}

#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub key_value_stores: BTreeMap<String, KvConfig>,
    pub sqlite_databases: BTreeMap<String, DatabaseConfig>,
    pub variables_providers: Vec<VariablesProvider>,
    pub state_dir: Option<PathBuf>,
    pub log_dir: Option<PathBuf>,
    /// Whether outbound HTTP keeps connections for reuse (Spin's default: yes).
    pub connection_pooling: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            key_value_stores: BTreeMap::new(),
            sqlite_databases: BTreeMap::new(),
            variables_providers: Vec::new(),
            state_dir: None,
            log_dir: None,
            connection_pooling: true,
        }
    }
}

impl RuntimeConfig {
    pub fn load(path: &Path, working_dir: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading runtime config {}", path.display()))?;
        let config_dir = path.parent().unwrap_or(Path::new("."));
        let config_dir = if config_dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            config_dir
        };
        Self::parse(&text, &working_dir.join(config_dir), working_dir)
    }

    pub fn parse(text: &str, config_dir: &Path, working_dir: &Path) -> Result<Self> {
        let raw: RawRuntimeConfig = toml::from_str(text).context("parsing runtime config")?;
        let _ = raw.max_instance_memory;
        let mut out = RuntimeConfig::default();
        for (label, store) in raw.key_value_store {
            let config = if store.kind == "redis" {
                KvConfig::Redis(redis_url(&store, &label)?)
            } else {
                let path = local_store_path(&store, "key_value_store", &label)?;
                KvConfig::Spin(path.map(|p| config_dir.join(p)))
            };
            out.key_value_stores.insert(label, config);
        }
        for (label, store) in raw.sqlite_database {
            let database = if store.kind == "libsql" {
                libsql_database(&store, &label)?
            } else {
                let path = local_store_path(&store, "sqlite_database", &label)?;
                DatabaseConfig::Spin(path.map(|p| working_dir.join(p)))
            };
            out.sqlite_databases.insert(label, database);
        }
        for provider in raw.variables_provider {
            out.variables_providers.push(match provider.kind.as_str() {
                "env" => VariablesProvider::Env {
                    prefix: provider
                        .rest
                        .get("prefix")
                        .and_then(|v| v.as_str())
                        .unwrap_or("SPIN_VARIABLE")
                        .to_string(),
                    dotenv: provider
                        .rest
                        .get("dotenv_path")
                        .and_then(|v| v.as_str())
                        .map(PathBuf::from),
                },
                "static" => {
                    let values = provider
                        .rest
                        .get("values")
                        .and_then(|v| v.as_table())
                        .map(|t| {
                            t.iter()
                                .map(|(k, v)| {
                                    (k.clone(), v.as_str().unwrap_or_default().to_string())
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    VariablesProvider::Static { values }
                }
                other => bail!(
                    "variables provider type {other:?} is not available in the test host (it is in Spin)"
                ),
            });
        }
        out.state_dir = raw.state_dir.map(|d| config_dir.join(d));
        out.log_dir = raw.log_dir.map(|d| config_dir.join(d));
        if let Some(http) = raw.outbound_http {
            if http.max_connections.is_some() {
                bail!(
                    "[outbound_http] max_connections is not available in the test host (it is in Spin)"
                );
            }
            out.connection_pooling = http.connection_pooling;
        }
        Ok(out)
    }
}

/// `[sqlite_database.x] type = "libsql"` with `url` (http or https, as Spin checks) and `token`.
fn libsql_database(store: &RawStore, label: &str) -> Result<DatabaseConfig> {
    let text = |key: &str| {
        store
            .rest
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .with_context(|| format!("[sqlite_database.{label}] type = \"libsql\" needs `{key}`"))
    };
    for key in store.rest.keys() {
        if key != "url" && key != "token" {
            bail!("[sqlite_database.{label}]: unknown key {key:?}");
        }
    }
    let url = text("url")?;
    if !url.starts_with("https://") && !url.starts_with("http://") {
        bail!("[sqlite_database.{label}] url must start with https:// or http://: {url:?}");
    }
    Ok(DatabaseConfig::LibSql {
        url,
        token: text("token")?,
    })
}

/// `[key_value_store.x] type = "redis"` with `url` (`redis://`; `rediss://` needs TLS, which
/// the test host's client is built without).
fn redis_url(store: &RawStore, label: &str) -> Result<String> {
    for key in store.rest.keys() {
        if key != "url" {
            bail!("[key_value_store.{label}]: unknown key {key:?}");
        }
    }
    let url = store
        .rest
        .get("url")
        .and_then(|v| v.as_str())
        .with_context(|| format!("[key_value_store.{label}] type = \"redis\" needs `url`"))?;
    if !url.starts_with("redis://") {
        bail!("[key_value_store.{label}] url must start with redis:// here: {url:?}");
    }
    Ok(url.to_string())
}

fn local_store_path(store: &RawStore, section: &str, label: &str) -> Result<Option<PathBuf>> {
    match store.kind.as_str() {
        "spin" => {
            for key in store.rest.keys() {
                if key != "path" {
                    bail!("[{section}.{label}]: unknown key {key:?}");
                }
            }
            Ok(store
                .rest
                .get("path")
                .and_then(|p| p.as_str())
                .map(PathBuf::from))
        }
        other => bail!(
            "[{section}.{label}] type = {other:?} needs a server this test host does not run; \
             use Spin for it, or type = \"spin\" here"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_like_spin() {
        let cfg = RuntimeConfig::parse(
            r#"
            [key_value_store.default]
            type = "spin"
            path = "data/kv.db"
            [sqlite_database.default]
            type = "spin"
            path = "data/app.db"
            "#,
            Path::new("/cfg"),
            Path::new("/work"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cfg.key_value_stores.get("default"),
            Some(&KvConfig::Spin(Some(PathBuf::from("/cfg/data/kv.db"))))
        );
        assert_eq!(
            cfg.sqlite_databases.get("default"),
            Some(&DatabaseConfig::Spin(Some(PathBuf::from(
                "/work/data/app.db"
            ))))
        );
    }

    #[test]
    fn outbound_connection_pooling_is_on_unless_the_table_says_otherwise() {
        let w = Path::new("/w");
        let pooling = |text: &str| {
            RuntimeConfig::parse(text, w, w)
                .unwrap_or_else(|e| panic!("{e}"))
                .connection_pooling
        };
        assert!(pooling(""));
        assert!(pooling("[outbound_http]\nconnection_pooling = true"));
        assert!(!pooling("[outbound_http]\nconnection_pooling = false"));
        // Spin's quirk: the key defaults to false once the table is there.
        assert!(!pooling("[outbound_http]"));
        assert!(RuntimeConfig::parse("[outbound_http]\npooling = true", w, w).is_err());
    }

    #[test]
    fn libsql_databases_need_a_url_and_a_token() {
        let w = Path::new("/w");
        let cfg = RuntimeConfig::parse(
            "[sqlite_database.default]\ntype = \"libsql\"\nurl = \"http://127.0.0.1:8080\"\ntoken = \"t\"",
            w,
            w,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cfg.sqlite_databases.get("default"),
            Some(&DatabaseConfig::LibSql {
                url: "http://127.0.0.1:8080".into(),
                token: "t".into()
            })
        );
        for bad in [
            "[sqlite_database.default]\ntype = \"libsql\"\ntoken = \"t\"",
            "[sqlite_database.default]\ntype = \"libsql\"\nurl = \"libsql://x\"\ntoken = \"t\"",
            "[sqlite_database.default]\ntype = \"libsql\"\nurl = \"http://x\"",
        ] {
            assert!(RuntimeConfig::parse(bad, w, w).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_keys_are_refused_and_redis_needs_a_url() {
        let w = Path::new("/w");
        assert!(RuntimeConfig::parse("nonsense = 1", w, w).is_err());
        let redis = RuntimeConfig::parse(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://x:6379\"",
            w,
            w,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            redis.key_value_stores.get("default"),
            Some(&KvConfig::Redis("redis://x:6379".into()))
        );
        for bad in [
            "[key_value_store.default]\ntype = \"redis\"",
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"http://x\"",
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://x\"\nport = 1",
            "[key_value_store.default]\ntype = \"azure_cosmos\"",
        ] {
            assert!(RuntimeConfig::parse(bad, w, w).is_err(), "{bad}");
        }
    }
}
