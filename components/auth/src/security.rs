//! The per-user key-value record every component reads after verifying an access token
//! (`chat_core::spin::auth::UserSecurity`): status, role and revoked sessions. Written here
//! whenever one of them changes, so the change holds at once for unexpired access tokens.

use crate::settings::settings;
use chat_core::Error;
use chat_core::auth::jwt::LEEWAY_SECS;
use chat_core::auth::{AccountStatus, Role};
use chat_core::spin::Kv;
use chat_core::spin::auth::{RevokedSession, UserSecurity, now_unix, security_key};

/// Sets the user's current status and role.
pub async fn set_account(user_id: &str, status: AccountStatus, role: Role) -> Result<(), Error> {
    let kv = Kv::open_default().await?;
    let key = security_key(user_id);
    let mut record: UserSecurity = kv.get_json(&key).await?.unwrap_or_default();
    record.status = status.as_str().to_string();
    record.role = Some(role);
    prune(&mut record);
    kv.set_json(&key, &record).await
}

/// Marks sessions revoked for as long as one of their access tokens could still be valid.
pub async fn revoke_sessions(
    user_id: &str,
    account: Option<(AccountStatus, Role)>,
    session_ids: &[String],
) -> Result<(), Error> {
    if session_ids.is_empty() {
        return Ok(());
    }
    let ttl = settings().await?.access_ttl_secs;
    let until = now_unix() + ttl + LEEWAY_SECS;
    let kv = Kv::open_default().await?;
    let key = security_key(user_id);
    let mut record: UserSecurity = kv.get_json(&key).await?.unwrap_or_default();
    if record.status.is_empty() {
        record.status = account
            .map_or(UserSecurity::DELETED, |(s, _)| s.as_str())
            .into();
        record.role = account.map(|(_, r)| r);
    }
    for id in session_ids {
        if !record.revoked_sessions.iter().any(|s| &s.id == id) {
            record.revoked_sessions.push(RevokedSession {
                id: id.clone(),
                until,
            });
        }
    }
    prune(&mut record);
    kv.set_json(&key, &record).await
}

/// Forgets the account (deleted users).
pub async fn forget(user_id: &str) -> Result<(), Error> {
    let kv = Kv::open_default().await?;
    kv.set_json(
        &security_key(user_id),
        &UserSecurity {
            status: UserSecurity::DELETED.into(),
            role: None,
            revoked_sessions: Vec::new(),
        },
    )
    .await
}

/// Entries past their tokens' lifetime are dropped (the store has no TTL).
fn prune(record: &mut UserSecurity) {
    let now = now_unix();
    record.revoked_sessions.retain(|s| s.until > now);
}
