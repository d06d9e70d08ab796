//! The chat component's settings, from Spin variables (defaults in `chat_core::variables`,
//! as in spin.toml).

use chat_core::Error;
use chat_core::spin::vars::number;
use std::sync::{Arc, OnceLock};

#[derive(Debug, Clone)]
pub struct Settings {
    /// The newest messages sent to the model as context.
    pub history_max_messages: usize,
    /// And at most this many characters of them.
    pub history_max_chars: usize,
    /// Answers one user may have running at once.
    pub max_concurrent_generations: i64,
}

/// Read once per instance (variables are fixed for an app's run).
pub async fn settings() -> Result<Arc<Settings>, Error> {
    static SETTINGS: OnceLock<Arc<Settings>> = OnceLock::new();
    if let Some(s) = SETTINGS.get() {
        return Ok(s.clone());
    }
    let s = Settings {
        history_max_messages: number("history_max_messages", 1).await? as usize,
        history_max_chars: number("history_max_chars", 1).await? as usize,
        max_concurrent_generations: number("max_concurrent_generations", 1).await?,
    };
    Ok(SETTINGS.get_or_init(|| Arc::new(s)).clone())
}
