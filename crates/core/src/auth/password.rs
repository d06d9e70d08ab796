//! Passwords: 12–128 characters, not common or guessable (rejected with `WEAK_PASSWORD` and a
//! reason in `details.reason`), hashed with Argon2id at OWASP's minimum parameters
//! (19 MiB, 2 passes, 1 lane) as PHC strings; hashes with older parameters are re-hashed on
//! login.

use crate::error::{Error, ErrorCode};
use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 128;

/// A password that passed the policy. Never logged: `Debug` hides it.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<hidden>)")
    }
}

fn weak(reason: &str, message: &str) -> Error {
    Error::new(ErrorCode::WeakPassword, message)
        .detail("field", "password")
        .detail("reason", reason)
}

impl Password {
    /// Checks length and guessability. `personal` are strings the password must not be built
    /// on (username, display name, email).
    pub fn parse(raw: &str, personal: &[&str]) -> Result<Self, Error> {
        let chars = raw.chars().count();
        if chars < MIN_CHARS {
            return Err(weak(
                "too_short",
                "Use at least 12 characters for your password.",
            ));
        }
        if chars > MAX_CHARS {
            return Err(Error::validation(
                "password",
                "A password has at most 128 characters.",
            ));
        }
        let lower = raw.to_lowercase();
        let distinct = {
            let mut c: Vec<char> = lower.chars().collect();
            c.sort_unstable();
            c.dedup();
            c.len()
        };
        if distinct < 5 {
            return Err(weak(
                "too_simple",
                "This password repeats too few characters; mix more of them.",
            ));
        }
        if is_sequence(&lower) {
            return Err(weak(
                "sequence",
                "This password is a keyboard or alphabet sequence.",
            ));
        }
        for p in personal {
            let p = p.trim().to_lowercase();
            let p = p.split('@').next().unwrap_or_default();
            if p.chars().count() >= 3 && lower.contains(p) {
                return Err(weak(
                    "contains_personal_info",
                    "Your password must not contain your username, name or email.",
                ));
            }
        }
        if super::common::is_common(&lower) || super::common::is_common(strip_suffix_digits(&lower))
        {
            return Err(weak(
                "common",
                "This password is on a list of commonly used passwords.",
            ));
        }
        Ok(Self(raw.to_string()))
    }

    /// For verifying an existing password (login, password change): no policy, only a bound
    /// on length so hashing cost stays bounded.
    pub fn for_verification(raw: &str) -> Result<Self, Error> {
        if raw.chars().count() > MAX_CHARS || raw.is_empty() {
            return Err(Error::new(
                ErrorCode::InvalidCredentials,
                "Wrong username or password.",
            ));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn strip_suffix_digits(s: &str) -> &str {
    s.trim_end_matches(|c: char| c.is_ascii_digit() || "!@#$%^&*.?".contains(c))
}

/// Whole-password runs along the alphabet, digits or a keyboard row (either direction).
fn is_sequence(lower: &str) -> bool {
    const RUNS: [&str; 6] = [
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
        "01234567890123456789012345678901234567890123456789",
        "qwertyuiopqwertyuiopqwertyuiop",
        "asdfghjklasdfghjklasdfghjkl",
        "zxcvbnmzxcvbnmzxcvbnmzxcvbnm",
        "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    ];
    let reversed: String = lower.chars().rev().collect();
    RUNS.iter()
        .any(|run| run.contains(lower) || run.contains(reversed.as_str()))
}

/// A stored password hash (PHC string).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<hidden>)")
    }
}

fn argon2() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet: Argon2id, m = 19 MiB, t = 2, p = 1.
    match Params::new(19 * 1024, 2, 1, None) {
        Ok(params) => Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
        Err(_) => Argon2::default(),
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but hashed with other parameters: store [`PasswordHash::hash`] anew.
    YesRehash,
}

impl PasswordHash {
    pub fn from_stored(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(password: &Password) -> Result<Self, Error> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| Error::internal("randomness").because(e))?;
        let salt = SaltString::encode_b64(&salt).map_err(Error::internal)?;
        argon2()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| Self(h.to_string()))
            .map_err(|e| Error::internal("hashing").because(e))
    }

    pub fn verify(&self, password: &Password) -> Verified {
        let Ok(parsed) = argon2::password_hash::PasswordHash::new(&self.0) else {
            return Verified::No;
        };
        if argon2()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_err()
        {
            return Verified::No;
        }
        let current = argon2();
        let same = parsed.algorithm.as_str() == "argon2id"
            && Params::try_from(&parsed)
                .map(|p| {
                    p.m_cost() == current.params().m_cost()
                        && p.t_cost() == current.params().t_cost()
                        && p.p_cost() == current.params().p_cost()
                })
                .unwrap_or(false);
        if same {
            Verified::Yes
        } else {
            Verified::YesRehash
        }
    }

    /// A hash of a random password, verified against when the username is unknown so that
    /// both cases cost the same (no timing oracle).
    pub fn dummy() -> Self {
        Self(
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0qeRKv4v3d7E7H2G1a8sC8wq2yYf7Vg0o6mK3kJq9ZU"
                .to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(raw: &str, personal: &[&str]) -> Option<String> {
        Password::parse(raw, personal).err().and_then(|e| {
            e.details()
                .get("reason")
                .and_then(|r| r.as_str())
                .map(str::to_string)
        })
    }

    #[test]
    fn weak_passwords_are_rejected_with_a_reason() {
        let table = [
            ("short", "too_short"),
            ("aaaaaaaaaaaaaaaa", "too_simple"),
            ("abababababababab", "too_simple"),
            ("abcdefghijklmnop", "sequence"),
            ("1234567890123", "sequence"),
            ("qwertyuiopasdf", "common"),
            ("ponmlkjihgfedcba", "sequence"),
            ("alice-the-great-1", "contains_personal_info"),
            ("passwordpassword", "common"),
            ("1qaz2wsx3edc4rfv", "sequence"),
        ];
        for (pw, expected) in table {
            assert_eq!(reason(pw, &["alice"]).as_deref(), Some(expected), "{pw}");
        }
        assert_eq!(
            Password::parse(&"x1".repeat(65), &[])
                .err()
                .map(|e| e.code()),
            Some(ErrorCode::ValidationError)
        );
    }

    #[test]
    fn reasonable_passwords_pass() {
        for pw in [
            "correct horse battery staple",
            "Tr0ub4dor&3-xylophone",
            "ünïcödé-pässwörd-42",
        ] {
            assert!(
                Password::parse(pw, &["alice", "alice@example.com"]).is_ok(),
                "{pw}"
            );
        }
    }

    #[test]
    fn hashes_verify_and_old_parameters_ask_for_a_rehash() {
        let pw =
            Password::parse("correct horse battery staple", &[]).unwrap_or_else(|e| panic!("{e}"));
        let hash = PasswordHash::hash(&pw).unwrap_or_else(|e| panic!("{e}"));
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(hash.verify(&pw), Verified::Yes);
        let wrong = Password::for_verification("wrong horse battery staple")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(hash.verify(&wrong), Verified::No);
        // A hash made with weaker parameters still verifies, and asks to be upgraded.
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap_or_default(),
        );
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap_or_else(|e| panic!("{e}"));
        let old = weak
            .hash_password(pw.expose().as_bytes(), &salt)
            .map(|h| PasswordHash::from_stored(h.to_string()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(old.verify(&pw), Verified::YesRehash);
        assert_eq!(
            PasswordHash::from_stored("garbage".into()).verify(&pw),
            Verified::No
        );
    }
}
