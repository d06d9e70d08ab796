//! What every component of the app shares. Everything here but the [`spin`] adapter is plain
//! Rust that builds and tests on the host; the adapter (feature `spin`) connects it to Spin:
//! HTTP serving, SQLite, key-value and variables.

pub mod auth;
pub mod client_addr;
pub mod config;
pub mod cors;
pub mod cursor;
pub mod error;
pub mod ids;
pub mod json;
pub mod metrics;
pub mod migrations;
pub mod openai_error;
pub mod policy;
pub mod ratelimit;
pub mod request_id;
pub mod security_headers;
pub mod sse;
pub mod time;
pub mod usage;
pub mod variables;

#[cfg(feature = "spin")]
pub mod spin;

pub use config::Config;
pub use error::{Error, ErrorCode, Result};

/// Compares two secrets in constant time (for their common length; the length itself is not
/// secret for the values compared here).
pub fn secure_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
