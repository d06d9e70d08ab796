//! One file per endpoint.

pub mod create;
pub mod delete;
pub mod export_all;
pub mod export_one;
pub mod get_one;
pub mod import;
pub mod list;
pub mod messages;
pub mod share_create;
pub mod share_revoke;
pub mod shared_get;
pub mod update;
