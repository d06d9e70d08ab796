//! The thin layer between the app and Spin: serving HTTP with axum inside a component,
//! SQLite and key-value access, variables, logs. Only this module touches spin-sdk.

mod admit;
pub mod auth;
pub mod db;
pub mod extract;
pub mod kv;
pub mod log;
pub mod metrics;
pub mod migrate;
pub mod ratelimit;
pub mod request_log;
pub mod routes;
pub mod serve;
pub mod task;
pub mod usage;
pub mod vars;

pub use db::{Column, Db, FromRow, Row, StoredText};
pub use extract::{ApiJson, ApiPath, ApiQuery, IdPath, RequestContext};
pub use kv::Kv;
pub use routes::Routes;
pub use serve::serve;
pub use spin_sdk::sqlite::Value;
