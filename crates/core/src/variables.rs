//! Every application variable, declared once: its default (as spin.toml's `[variables]` has
//! it), and which components read it (as their `[component.NAME.variables]` declare it). A
//! host test checks spin.toml against this table both ways, so a variable a component reads
//! but forgot to declare fails the build's tests instead of silently taking its default.
//! Defaults in code come from here ([`default_of`]); nothing else spells them.

/// One application variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    /// Its default, as spin.toml declares it.
    pub default: &'static str,
    /// Whether spin.toml marks it secret (never logged).
    pub secret: bool,
    /// The components that read it (each declares it in spin.toml).
    pub read_by: &'static [&'static str],
    /// The components whose `allowed_outbound_hosts` name it (an Ollama slot).
    pub allows_hosts_of: &'static [&'static str],
}

/// Read by every component: the request pipeline's settings (`Config`) and token checks.
const EVERY: &[&str] = &["auth", "conversations", "chat", "health"];
const OLLAMA: &[&str] = &["chat", "health"];
const NONE: &[&str] = &[];

const fn var(
    name: &'static str,
    default: &'static str,
    read_by: &'static [&'static str],
) -> Variable {
    Variable {
        name,
        default,
        secret: false,
        read_by,
        allows_hosts_of: NONE,
    }
}

const fn secret(name: &'static str, read_by: &'static [&'static str]) -> Variable {
    Variable {
        secret: true,
        ..var(name, "", read_by)
    }
}

const fn slot(name: &'static str, read_by: &'static [&'static str]) -> Variable {
    Variable {
        allows_hosts_of: OLLAMA,
        ..var(name, "", read_by)
    }
}

/// Every variable of the app, in spin.toml's order.
pub const VARIABLES: &[Variable] = &[
    Variable {
        allows_hosts_of: OLLAMA,
        ..var("ollama_url", "http://127.0.0.1:11434", OLLAMA)
    },
    var("ollama_urls", "", OLLAMA),
    slot("ollama_url_two", NONE),
    slot("ollama_url_three", NONE),
    slot("ollama_url_four", NONE),
    var("ollama_cooldown_seconds", "30", &["chat"]),
    var("default_model", "llama3.2", &["chat"]),
    var("ollama_timeout_seconds", "60", &["chat"]),
    var("cors_origins", "", EVERY),
    var("body_limit_bytes", "262144", EVERY),
    var("import_limit_bytes", "16777216", &["conversations"]),
    var("history_max_messages", "50", &["chat"]),
    var("history_max_chars", "32000", &["chat"]),
    var("max_concurrent_generations", "3", &["chat"]),
    var("log_level", "info", EVERY),
    secret("metrics_token", &["health"]),
    var("metrics", "on", EVERY),
    var("trusted_proxies", "", EVERY),
    var("signup", "open", &["auth"]),
    secret("jwt_secret", EVERY),
    var("access_token_ttl_seconds", "900", &["auth"]),
    var("refresh_token_ttl_days", "30", &["auth"]),
    var("login_max_failures", "10", &["auth"]),
    var("login_max_attempts_per_ip", "100", &["auth"]),
    var("login_window_seconds", "900", &["auth"]),
    var("rate_limit_auth", "30", EVERY),
    var("rate_limit_chat", "30", EVERY),
    var("rate_limit_general", "600", EVERY),
    var("rate_limit_window_seconds", "60", EVERY),
    var("quota_tokens_per_day", "0", &["auth", "chat"]),
    var("quota_tokens_per_month", "0", &["auth", "chat"]),
];

/// The variable `name`, if the app has one.
pub fn find(name: &str) -> Option<&'static Variable> {
    VARIABLES.iter().find(|v| v.name == name)
}

/// The default of variable `name` (empty for a name the app does not have; the table test
/// keeps every name the code reads in the table).
pub fn default_of(name: &str) -> &'static str {
    find(name).map_or("", |v| v.default)
}

/// The variables `component` reads.
pub fn read_by(component: &str) -> impl Iterator<Item = &'static Variable> + '_ {
    VARIABLES
        .iter()
        .filter(move |v| v.read_by.contains(&component))
}

#[cfg(test)]
mod tests;
