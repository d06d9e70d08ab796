//! Opaque list cursors: a keyset position (`updated_at`/`created_at` and `id` of the last item)
//! serialized and signed, so a changed or forged cursor is refused (`400 VALIDATION_ERROR`)
//! instead of being run as a query. Each list signs with its own scope, so one list's cursor
//! is no use in another.

use crate::error::Error;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

fn mac(key: &[u8], scope: &str, payload: &str) -> Hmac<Sha256> {
    let mut m = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC keys have no length limit"),
    };
    m.update(scope.as_bytes());
    m.update(b"\0");
    m.update(payload.as_bytes());
    m
}

pub fn encode<T: Serialize>(key: &[u8], scope: &str, position: &T) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).unwrap_or_default());
    let tag = mac(key, scope, &payload).finalize().into_bytes();
    format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&tag[..16]))
}

pub fn decode<T: DeserializeOwned>(key: &[u8], scope: &str, cursor: &str) -> Result<T, Error> {
    let invalid = || Error::validation("cursor", "The cursor is not valid for this list.");
    let (payload, tag) = cursor.split_once('.').ok_or_else(invalid)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
    mac(key, scope, payload)
        .verify_truncated_left(&tag)
        .map_err(|_| invalid())?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid())
}

/// `?limit=`: 1..=100, default 20.
/// The query of a plain paginated list: `?limit=&cursor=`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// One page of a list: its items and the cursor of the next page (`null` on the last).
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

pub fn limit(raw: Option<u32>) -> Result<u32, Error> {
    match raw {
        None => Ok(20),
        Some(n) if (1..=100).contains(&n) => Ok(n),
        Some(_) => Err(Error::validation(
            "limit",
            "`limit` must be between 1 and 100.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn round_trip_and_tampering() {
        let pos = ("2026-01-01T00:00:00.000Z".to_string(), "id1".to_string());
        let c = encode(b"k", "users", &pos);
        assert_eq!(
            decode::<(String, String)>(b"k", "users", &c).ok(),
            Some(pos.clone())
        );
        for bad in [
            format!("x{c}"),
            c.replace('.', "!"),
            encode(b"other-key", "users", &pos),
            encode(b"k", "conversations", &pos),
            String::new(),
            "abc".into(),
        ] {
            let e = decode::<(String, String)>(b"k", "users", &bad).err();
            assert_eq!(
                e.map(|e| e.code()),
                Some(ErrorCode::ValidationError),
                "{bad}"
            );
        }
    }

    #[test]
    fn limits() {
        assert_eq!(limit(None).ok(), Some(20));
        assert_eq!(limit(Some(100)).ok(), Some(100));
        assert!(limit(Some(0)).is_err() && limit(Some(101)).is_err());
    }
}
