//! Random secrets and how they are stored: refresh tokens as SHA-256 (they are long random
//! values, so a plain hash is enough), API keys as HMAC-SHA256 under a server key (a keyed hash:
//! a stolen table alone cannot confirm guesses).

use crate::error::Error;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// `n` random bytes, base64url without padding.
pub fn random_token(n: usize) -> Result<String, Error> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal("randomness").because(e))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

pub fn sha256_hex(value: &str) -> String {
    hex(&Sha256::digest(value.as_bytes()))
}

pub fn keyed_hash(key: &[u8], value: &str) -> String {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(value.as_bytes());
            hex(&mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length; this arm cannot happen.
        Err(_) => sha256_hex(value),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = random_token(32).unwrap_or_default();
        let b = random_token(32).unwrap_or_default();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn keyed_hash_depends_on_the_key() {
        assert_ne!(keyed_hash(b"k1", "v"), keyed_hash(b"k2", "v"));
        assert_eq!(keyed_hash(b"k1", "v"), keyed_hash(b"k1", "v"));
        assert_eq!(sha256_hex("abc").len(), 64);
    }
}
