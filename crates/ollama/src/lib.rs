//! Ollama as the app speaks to it, the parts that need no network: its wire format (`wire`:
//! NDJSON framing across arbitrary chunk boundaries, the lines of `/api/chat` and `/api/pull`)
//! and the servers (`servers`: the configured list, and the order they are tried in). The
//! HTTP calls themselves go through Spin's outbound HTTP in the components that make them.

pub mod servers;
pub mod wire;
