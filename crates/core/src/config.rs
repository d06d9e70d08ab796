//! App settings, read from Spin variables (each declared in spin.toml with its default).
//! A value that does not parse is a configuration error, reported once with the variable name.

use crate::cors::CorsPolicy;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The Ollama servers (`ollama_urls`, else `ollama_url` alone), in the order they are
    /// preferred.
    pub servers: ollama_api::servers::Servers,
    /// How long a failed server is skipped when there are several
    /// (`ollama_cooldown_seconds`).
    pub ollama_cooldown: Duration,
    pub default_model: String,
    pub cors: CorsPolicy,
    pub body_limit_bytes: usize,
    /// The larger body limit of `POST /api/conversations/import` (an export can be big).
    pub import_limit_bytes: usize,
    pub ollama_timeout: Duration,
    pub log_level: LogLevel,
    pub rate_limits: crate::ratelimit::Limits,
    /// Count requests, logins and answers for `/metrics` (the `metrics` variable, `on`/`off`).
    pub metrics: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`trusted_proxies`).
    pub trusted_proxies: crate::client_addr::TrustedProxies,
    /// `quota_tokens_per_day` / `quota_tokens_per_month` (`0`: no limit).
    pub quota: crate::usage::DefaultQuota,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("variable `{name}` has an invalid value: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

impl Config {
    /// Builds the config from a variable lookup. A variable the lookup does not have (one the
    /// component does not declare: the pipeline's settings are read by every component, some
    /// of them used by a few only) takes the default of the app's table
    /// (`crate::variables`), which a test keeps equal to spin.toml's.
    pub fn from_lookup(get: impl Fn(&'static str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| {
            get(name).unwrap_or_else(|| crate::variables::default_of(name).to_string())
        };
        let ollama_url = get("ollama_url");
        let urls = get("ollama_urls");
        let servers =
            ollama_api::servers::Servers::parse(&urls, &ollama_url).map_err(|reason| {
                ConfigError {
                    name: if urls.trim().is_empty() {
                        "ollama_url"
                    } else {
                        "ollama_urls"
                    },
                    reason,
                }
            })?;
        let cooldown = number(&get, "ollama_cooldown_seconds")?;
        let default_model = Some(get("default_model").trim().to_string())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| crate::variables::default_of("default_model").into());
        let cors = CorsPolicy::parse(&get("cors_origins"));
        let body_limit_bytes = number(&get, "body_limit_bytes")?;
        if body_limit_bytes == 0 {
            return Err(ConfigError {
                name: "body_limit_bytes",
                reason: "must be positive".into(),
            });
        }
        let import_limit_bytes = number(&get, "import_limit_bytes")?.max(body_limit_bytes);
        let timeout = number(&get, "ollama_timeout_seconds")?;
        let log_level = LogLevel::parse(&get("log_level"))?;
        let limit = |name| -> Result<u32, ConfigError> {
            let n = number(&get, name)?;
            u32::try_from(n).map_err(|_| ConfigError {
                name,
                reason: format!("{n} is too large"),
            })
        };
        let rate_limits = crate::ratelimit::Limits {
            auth: limit("rate_limit_auth")?,
            chat: limit("rate_limit_chat")?,
            general: limit("rate_limit_general")?,
            window_seconds: limit("rate_limit_window_seconds")?.max(1),
        };
        let metrics = on_or_off("metrics", &get("metrics"))?;
        let trusted_proxies = crate::client_addr::TrustedProxies::parse(&get("trusted_proxies"))
            .map_err(|reason| ConfigError {
                name: "trusted_proxies",
                reason,
            })?;
        let quota = crate::usage::DefaultQuota::new(
            number(&get, "quota_tokens_per_day")?,
            number(&get, "quota_tokens_per_month")?,
        );
        Ok(Self {
            quota,
            servers,
            ollama_cooldown: Duration::from_secs(cooldown),
            default_model,
            cors,
            body_limit_bytes: usize::try_from(body_limit_bytes).unwrap_or(usize::MAX),
            import_limit_bytes: usize::try_from(import_limit_bytes).unwrap_or(usize::MAX),
            ollama_timeout: Duration::from_secs(timeout.max(1)),
            log_level,
            rate_limits,
            metrics,
            trusted_proxies,
        })
    }
}

impl LogLevel {
    /// `log_level`'s value; blank is `info`.
    fn parse(value: &str) -> Result<Self, ConfigError> {
        Ok(match value.trim() {
            "" | "info" => Self::Info,
            "error" => Self::Error,
            "warn" => Self::Warn,
            "debug" => Self::Debug,
            other => {
                return Err(ConfigError {
                    name: "log_level",
                    reason: format!("{other:?} is not one of error, warn, info, debug"),
                });
            }
        })
    }
}

/// A switch variable: `on` (or blank) or `off`.
fn on_or_off(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim() {
        "" | "on" => Ok(true),
        "off" => Ok(false),
        other => Err(ConfigError {
            name,
            reason: format!("{other:?} is not on or off"),
        }),
    }
}

/// A whole-number variable; blank is its default.
fn number(get: &impl Fn(&'static str) -> String, name: &'static str) -> Result<u64, ConfigError> {
    let v = get(name);
    let v = match v.trim() {
        "" => crate::variables::default_of(name),
        v => v,
    };
    v.parse().map_err(|_| ConfigError {
        name,
        reason: format!("{v:?} is not a whole number"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&'static str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn every_variable_config_reads_is_in_the_apps_table() {
        // A name missing from `crate::variables` would silently default to "".
        let asked = std::cell::RefCell::new(Vec::new());
        let _ = Config::from_lookup(|name| {
            asked.borrow_mut().push(name);
            None
        });
        let asked = asked.into_inner();
        assert!(asked.len() > 10, "{asked:?}");
        for name in asked {
            assert!(
                crate::variables::find(name).is_some(),
                "{name} is not in the table"
            );
        }
    }

    #[test]
    fn defaults_apply_when_variables_are_absent() {
        let c = config(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.servers.urls(), ["http://127.0.0.1:11434"]);
        assert_eq!(c.ollama_cooldown, Duration::from_secs(30));
        assert_eq!(c.body_limit_bytes, 256 * 1024);
        assert_eq!(c.ollama_timeout, Duration::from_secs(60));
        assert_eq!(c.log_level, LogLevel::Info);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let table = [
            ("body_limit_bytes", "lots"),
            ("body_limit_bytes", "0"),
            ("ollama_timeout_seconds", "-3"),
            ("ollama_url", "127.0.0.1:11434"),
            ("ollama_urls", "http://a:1,b:2"),
            ("ollama_cooldown_seconds", "soon"),
            ("log_level", "loud"),
            ("rate_limit_general", "many"),
            ("rate_limit_chat", "99999999999"),
            ("metrics", "maybe"),
            ("trusted_proxies", "10.0.0.0/8, ingress"),
        ];
        for (name, value) in table {
            assert_eq!(config(&[(name, value)]).err().map(|e| e.name), Some(name));
        }
        let c = config(&[("ollama_url", "http://ollama:11434/")]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.servers.urls(), ["http://ollama:11434"]);
        let c =
            config(&[("ollama_urls", "http://a:1, http://b:2")]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.servers.urls(), ["http://a:1", "http://b:2"]);
    }
}
