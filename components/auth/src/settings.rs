//! The auth component's settings, from Spin variables (defaults in `chat_core::variables`,
//! as in spin.toml).

use chat_core::Error;
use chat_core::spin::vars::{self, number};
use std::sync::{Arc, OnceLock};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signup {
    Open,
    Approval,
    Closed,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub signup: Signup,
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
    pub login_max_failures: i64,
    pub login_max_attempts_per_ip: i64,
    pub login_window_secs: i64,
}

/// Read once per instance.
pub async fn settings() -> Result<Arc<Settings>, Error> {
    static SETTINGS: OnceLock<Arc<Settings>> = OnceLock::new();
    if let Some(s) = SETTINGS.get() {
        return Ok(s.clone());
    }
    let signup = match vars::get("signup").await?.trim() {
        "" | "open" => Signup::Open,
        "approval" => Signup::Approval,
        "closed" => Signup::Closed,
        other => {
            return Err(Error::internal(format!(
                "variable `signup` must be open, approval or closed, not {other:?}"
            )));
        }
    };
    let s = Settings {
        signup,
        access_ttl_secs: number("access_token_ttl_seconds", 1).await?,
        refresh_ttl_secs: number("refresh_token_ttl_days", 1).await? * 86_400,
        login_max_failures: number("login_max_failures", 1).await?,
        login_max_attempts_per_ip: number("login_max_attempts_per_ip", 1).await?,
        login_window_secs: number("login_window_seconds", 1).await?,
    };
    Ok(SETTINGS.get_or_init(|| Arc::new(s)).clone())
}
