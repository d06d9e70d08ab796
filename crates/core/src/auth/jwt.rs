//! Access tokens: HS256 JSON Web Tokens. Only HS256 is accepted (`none` and every other
//! algorithm are refused), the signature is checked in constant time, and `exp`/`nbf`/`iat`
//! are checked with a small leeway. Each key has a `kid` (derived from the secret) so the
//! secret can rotate: the first secret signs, every configured one verifies.

use crate::auth::principal::Role;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Clock skew tolerated between instances, in seconds.
pub const LEEWAY_SECS: i64 = 30;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Session id.
    pub sid: String,
    pub role: Role,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("algorithm not accepted")]
    Algorithm,
    #[error("unknown key")]
    UnknownKey,
    #[error("bad signature")]
    Signature,
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
}

/// A signing key and its id.
#[derive(Clone)]
pub struct Key {
    kid: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.kid)
    }
}

impl Key {
    pub fn new(secret: &[u8]) -> Self {
        let digest = Sha256::digest(secret);
        let kid = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            kid,
            secret: secret.to_vec(),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    fn mac(&self, data: &[u8]) -> Hmac<Sha256> {
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&self.secret) {
            Ok(m) => m,
            // HMAC accepts keys of any length.
            Err(_) => unreachable!("HMAC keys have no length limit"),
        };
        mac.update(data);
        mac
    }
}

/// The keys in use: the first signs; all verify.
#[derive(Debug, Clone)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    /// From the `jwt_secret` variable: one or more secrets separated by commas (newest first).
    pub fn from_secrets<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        let keys: Vec<Key> = secrets
            .into_iter()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Key::new(s.as_bytes()))
            .collect();
        (!keys.is_empty()).then_some(Self { keys })
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let key = &self.keys[0];
        let header = Header {
            alg: "HS256".into(),
            typ: Some("JWT".into()),
            kid: Some(key.kid.clone()),
        };
        let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default());
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let sig = key.mac(signing_input.as_bytes()).finalize().into_bytes();
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = URL_SAFE_NO_PAD
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed)?;
        if header.alg != "HS256" {
            return Err(TokenError::Algorithm);
        }
        let key = match &header.kid {
            Some(kid) => self.keys.iter().find(|k| &k.kid == kid),
            None => None,
        }
        .ok_or(TokenError::UnknownKey)?;
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| TokenError::Malformed)?;
        key.mac(format!("{h}.{p}").as_bytes())
            .verify_slice(&sig)
            .map_err(|_| TokenError::Signature)?;
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed)?;
        if claims.exp + LEEWAY_SECS <= now {
            return Err(TokenError::Expired);
        }
        if claims.nbf - LEEWAY_SECS > now || claims.iat - LEEWAY_SECS > now {
            return Err(TokenError::NotYetValid);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn keys() -> KeySet {
        KeySet::from_secrets(["secret-one"]).unwrap_or_else(|| panic!("keys"))
    }

    fn claims() -> Claims {
        Claims {
            sub: "u1".into(),
            sid: "s1".into(),
            role: Role::User,
            iat: NOW,
            nbf: NOW,
            exp: NOW + 900,
        }
    }

    fn b64(v: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn round_trip_and_time_checks() {
        let k = keys();
        let t = k.sign(&claims());
        assert_eq!(k.verify(&t, NOW), Ok(claims()));
        assert_eq!(
            k.verify(&t, NOW + 900 + LEEWAY_SECS),
            Err(TokenError::Expired)
        );
        assert_eq!(
            k.verify(&t, NOW - LEEWAY_SECS - 1),
            Err(TokenError::NotYetValid)
        );
        assert!(k.verify(&t, NOW + 900 + LEEWAY_SECS - 1).is_ok());
    }

    #[test]
    fn tampering_is_refused() {
        let k = keys();
        let t = k.sign(&claims());
        let parts: Vec<&str> = t.split('.').collect();
        let kid = k.keys[0].kid.clone();

        // Changed payload, original signature.
        let mut admin = claims();
        admin.role = Role::Admin;
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&admin).unwrap_or_default());
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(k.verify(&forged, NOW), Err(TokenError::Signature));

        // alg: none, no signature.
        let none = b64(&serde_json::json!({"alg": "none", "typ": "JWT", "kid": kid}));
        assert_eq!(
            k.verify(&format!("{none}.{}.", parts[1]), NOW),
            Err(TokenError::Algorithm)
        );

        // Another algorithm.
        let hs512 = b64(&serde_json::json!({"alg": "HS512", "kid": kid}));
        assert_eq!(
            k.verify(&format!("{hs512}.{}.{}", parts[1], parts[2]), NOW),
            Err(TokenError::Algorithm)
        );

        // Signed with another key.
        let other = KeySet::from_secrets(["secret-two"]).unwrap_or_else(|| panic!("keys"));
        assert_eq!(
            k.verify(&other.sign(&claims()), NOW),
            Err(TokenError::UnknownKey)
        );

        for junk in ["", "a.b", "a.b.c.d", "!!.??.**"] {
            assert!(k.verify(junk, NOW).is_err(), "{junk}");
        }
    }

    #[test]
    fn rotation_keeps_old_tokens_valid() {
        let old = KeySet::from_secrets(["old"]).unwrap_or_else(|| panic!("keys"));
        let rotated = KeySet::from_secrets(["new", "old"]).unwrap_or_else(|| panic!("keys"));
        let token = old.sign(&claims());
        assert!(rotated.verify(&token, NOW).is_ok());
        let fresh = rotated.sign(&claims());
        assert_eq!(old.verify(&fresh, NOW), Err(TokenError::UnknownKey));
    }
}
