//! The app's domain as more than one component uses it: a conversation's validated fields and
//! message vocabulary with their API views (`conversation`), its settings and how a PATCH
//! changes them (`settings`), and, behind the `spin` feature, the stored rows the chat and
//! conversations components both read and write (`rows`). Everything but `rows` is plain
//! Rust, tested on the host (`cargo test -p chat-domain`).

pub mod conversation;
#[cfg(feature = "spin")]
pub mod rows;
pub mod settings;
