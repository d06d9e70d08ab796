//! Turns a request into an authenticated [`Principal`] (or the right 401/403), for every
//! component.
//!
//! - `Authorization: Bearer <access token>`: an HS256 JWT, verified without the database.
//!   Then one key-value read of the user's security record (status, role, revoked sessions),
//!   so that logout, session revocation, a disabled account or a changed role take effect at
//!   once instead of when the token expires.
//! - `Authorization: Bearer ock_...`: an API key, looked up by its keyed hash in SQLite (a
//!   revoked key stops working at once).

use super::db::{Db, FromRow, Row};
use super::kv::Kv;
use super::vars;
use crate::auth::cookies;
use crate::auth::jwt::{Claims, KeySet};
use crate::auth::principal::{AccountStatus, Credential, Principal, Role};
use crate::auth::secrets;
use crate::error::{Error, ErrorCode};
use crate::spin::Value;
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};

/// API keys start with this, so they are told apart from access tokens at a glance.
pub const API_KEY_PREFIX: &str = "ock_";

/// The key-value record that lets security changes take effect before tokens expire.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UserSecurity {
    pub status: String,
    pub role: Option<Role>,
    /// Sessions revoked while their access tokens may still be unexpired.
    #[serde(default)]
    pub revoked_sessions: Vec<RevokedSession>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RevokedSession {
    pub id: String,
    /// Unix seconds after which no access token of the session can be valid anyway.
    pub until: i64,
}

impl UserSecurity {
    /// The status of a deleted account (an [`AccountStatus`] otherwise).
    pub const DELETED: &str = "deleted";

    /// Whether the account may use its credentials: only an active one may.
    fn may_sign_in(&self) -> bool {
        AccountStatus::parse(&self.status).is_some_and(AccountStatus::is_active)
    }
}

pub fn security_key(user_id: &str) -> String {
    format!("auth:user:{user_id}")
}

/// Current time in unix seconds.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn unauthenticated(message: &str) -> Error {
    Error::new(ErrorCode::Unauthenticated, message)
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Whether the request presents a credential at all (a bearer token or an access cookie).
pub fn has_credentials(headers: &HeaderMap) -> bool {
    bearer(headers).is_some() || cookies::get(headers, cookies::ACCESS).is_some()
}

/// The principal `serve` already authenticated for this request, or a fresh check.
async fn principal_of(parts: &http::request::Parts) -> Result<Principal, Error> {
    match parts.extensions.get::<Principal>() {
        Some(p) => Ok(p.clone()),
        None => authenticate(&parts.method, &parts.headers).await,
    }
}

/// Authenticates a request: its principal, `401 UNAUTHENTICATED`, or — for a cookie request
/// of an unsafe method without the CSRF token — `403 FORBIDDEN`.
pub async fn authenticate(method: &http::Method, headers: &HeaderMap) -> Result<Principal, Error> {
    if let Some(token) = bearer(headers) {
        return authenticate_bearer(token).await;
    }
    let cookie = cookies::get(headers, cookies::ACCESS)
        .filter(|_| !headers.contains_key(http::header::AUTHORIZATION))
        .filter(|t| !t.starts_with(API_KEY_PREFIX));
    let Some(token) = cookie else {
        return Err(unauthenticated("Sign in to use this route."));
    };
    let principal = authenticate_bearer(token).await?;
    if !cookies::csrf_ok(method, headers) {
        return Err(Error::new(
            ErrorCode::Forbidden,
            "A request signed in by cookie must send the `csrf` cookie's value in the x-csrf-token header.",
        ));
    }
    Ok(principal)
}

async fn authenticate_bearer(token: &str) -> Result<Principal, Error> {
    if token.starts_with(API_KEY_PREFIX) {
        return authenticate_key(token).await;
    }
    let keys = signing_keys().await?;
    let claims = keys
        .verify(token, now_unix())
        .map_err(|_| unauthenticated("The access token is invalid or expired."))?;
    principal_from_claims(claims).await
}

/// The signed-in caller, as an axum extractor. It reads only headers, so put it before any body
/// extractor: an unauthenticated request is then `401`, whatever its body.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

/// An admin caller (`403 FORBIDDEN` for others).
#[derive(Debug, Clone)]
pub struct Admin(pub Principal);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Authenticated {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut http::request::Parts, _: &S) -> Result<Self, Error> {
        principal_of(parts).await.map(Authenticated)
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Admin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut http::request::Parts, _: &S) -> Result<Self, Error> {
        admin_only(principal_of(parts).await?).map(Admin)
    }
}

/// Like [`authenticate`], and the caller must be an admin (`403 FORBIDDEN` otherwise).
pub async fn require_admin(method: &http::Method, headers: &HeaderMap) -> Result<Principal, Error> {
    admin_only(authenticate(method, headers).await?)
}

fn admin_only(p: Principal) -> Result<Principal, Error> {
    if !p.is_admin() {
        return Err(Error::new(
            ErrorCode::Forbidden,
            "Only an admin may do this.",
        ));
    }
    Ok(p)
}

async fn principal_from_claims(claims: Claims) -> Result<Principal, Error> {
    let kv = Kv::open_default().await?;
    let record: Option<UserSecurity> = kv.get_json(&security_key(&claims.sub)).await?;
    let mut role = claims.role;
    if let Some(r) = record {
        if !r.may_sign_in() {
            return Err(unauthenticated("This account cannot sign in."));
        }
        if r.revoked_sessions.iter().any(|s| s.id == claims.sid) {
            return Err(unauthenticated("This session has ended. Sign in again."));
        }
        if let Some(current) = r.role {
            role = current;
        }
    }
    Ok(Principal {
        user_id: claims.sub,
        role,
        credential: Credential::Session(claims.sid),
    })
}

struct KeyRow {
    id: String,
    user_id: String,
    role: Role,
    status: AccountStatus,
    last_used_at: Option<String>,
}

crate::from_columns!(KeyRow {
    id,
    user_id,
    role,
    status,
    last_used_at,
});

async fn authenticate_key(key: &str) -> Result<Principal, Error> {
    let pepper = key_pepper().await?;
    let hash = secrets::keyed_hash(pepper.as_bytes(), key);
    let db = Db::open().await?;
    let now = crate::time::now_rfc3339();
    let row: Option<KeyRow> = db
        .query_opt(
            chat_store::keys::CHECK,
            vec![
                Value::Text(hash),
                Value::Text(now.clone()),
                Value::Text(now.clone()),
            ],
        )
        .await?;
    let row = row.ok_or_else(|| unauthenticated("The API key is invalid, revoked or expired."))?;
    if !row.status.is_active() {
        return Err(unauthenticated("This account cannot sign in."));
    }
    // Writing last_used_at on every call would make each request a write: once a minute is
    // precise enough for "last used".
    let stale = row
        .last_used_at
        .as_deref()
        .map(|t| crate::time::seconds_between(t, &now).is_none_or(|s| s >= 60))
        .unwrap_or(true);
    if stale {
        db.execute(
            chat_store::keys::USED,
            vec![Value::Text(now), Value::Text(row.id.clone())],
        )
        .await?;
    }
    Ok(Principal {
        user_id: row.user_id,
        role: row.role,
        credential: Credential::ApiKey(row.id),
    })
}

/// The signing keys: the `jwt_secret` variable (comma-separated, newest first), or — when it
/// is empty — one secret generated on first use and shared by every instance.
pub async fn signing_keys() -> Result<Arc<KeySet>, Error> {
    static KEYS: OnceLock<Arc<KeySet>> = OnceLock::new();
    if let Some(k) = KEYS.get() {
        return Ok(k.clone());
    }
    let configured = vars::get("jwt_secret").await?;
    let keys = match KeySet::from_secrets(configured.split(',')) {
        Some(k) => k,
        None => {
            let generated = generated_secret("jwt_secret").await?;
            KeySet::from_secrets([generated.as_str()])
                .ok_or_else(|| Error::internal("empty generated secret"))?
        }
    };
    Ok(KEYS.get_or_init(|| Arc::new(keys)).clone())
}

/// The server key API keys are hashed under. Generated once; never rotates (rotating it would
/// invalidate every key).
pub async fn key_pepper() -> Result<Arc<String>, Error> {
    static PEPPER: OnceLock<Arc<String>> = OnceLock::new();
    if let Some(p) = PEPPER.get() {
        return Ok(p.clone());
    }
    let pepper = generated_secret("api_key_pepper").await?;
    Ok(PEPPER.get_or_init(|| Arc::new(pepper)).clone())
}

struct MetaValue(String);

impl FromRow for MetaValue {
    fn from_row(row: &Row<'_>) -> Result<Self, Error> {
        Ok(Self(row.text("value")?))
    }
}

/// A random secret created once per installation. The key-value store answers fast; SQLite
/// decides the value: `INSERT OR IGNORE` then read back, so instances racing on first use all
/// end up with the first writer's secret.
async fn generated_secret(name: &str) -> Result<String, Error> {
    let kv = Kv::open_default().await?;
    let kv_key = format!("auth:generated:{name}");
    if let Some(bytes) = kv.get(&kv_key).await?
        && let Ok(s) = String::from_utf8(bytes)
        && !s.is_empty()
    {
        return Ok(s);
    }
    let db = Db::open().await?;
    let meta_key = format!("secret:{name}");
    db.execute(
        chat_store::meta::SET_ONCE,
        vec![
            Value::Text(meta_key.clone()),
            Value::Text(secrets::random_token(32)?),
        ],
    )
    .await?;
    let value: Option<MetaValue> = db
        .query_opt(chat_store::meta::GET, vec![Value::Text(meta_key)])
        .await?;
    let value = value
        .map(|v| v.0)
        .ok_or_else(|| Error::internal("generated secret vanished"))?;
    kv.set(&kv_key, value.as_bytes()).await?;
    Ok(value)
}
