//! The answer the bench's fake Ollama streams: how many tokens, and how far apart.

use std::time::Duration;

/// Tokens per answer.
pub const TOKENS: usize = 50;
/// The time between two tokens.
pub const TOKEN_DELAY: Duration = Duration::from_millis(20);
