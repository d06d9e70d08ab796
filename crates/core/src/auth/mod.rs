//! Accounts and credentials, independent of Spin: validated usernames and passwords, password
//! hashing, signed access tokens, opaque refresh tokens and API keys, and the authenticated
//! principal every component works with.

pub mod common;
pub mod cookies;
pub mod jwt;
pub mod password;
pub mod principal;
pub mod secrets;
pub mod username;

pub use password::{Password, PasswordHash};
pub use principal::{AccountStatus, Principal, Role};
pub use username::Username;
