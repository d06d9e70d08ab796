//! Share links: a random token (256 bits) handed out once; the database keeps its SHA-256.

use chat_core::Error;
use chat_core::auth::secrets::{random_token, sha256_hex};

pub struct NewLink {
    pub token: String,
    pub token_hash: String,
}

pub fn new_link() -> Result<NewLink, Error> {
    let token = random_token(32)?;
    Ok(NewLink {
        token_hash: sha256_hex(&token),
        token,
    })
}

/// The public URL of a link: same scheme and host as the request that made it.
pub fn url(full_url: Option<&str>, token: &str) -> String {
    let path = format!("/api/shared/{token}");
    let origin = full_url.and_then(|u| {
        let (scheme, rest) = u.split_once("://")?;
        let host = rest.split(['/', '?', '#']).next()?;
        (!host.is_empty()).then(|| format!("{scheme}://{host}"))
    });
    match origin {
        Some(o) => format!("{o}{path}"),
        None => path,
    }
}
