//! One file per endpoint.

pub mod admin_usage_get;
pub mod admin_user_delete;
pub mod admin_user_update;
pub mod admin_users_list;
pub mod key_revoke;
pub mod key_rotate;
pub mod keys_create;
pub mod keys_list;
pub mod login;
pub mod logout;
pub mod me_get;
pub mod me_update;
pub mod password;
pub mod refresh;
pub mod register;
pub mod session_revoke;
pub mod sessions_list;
pub mod usage_get;
