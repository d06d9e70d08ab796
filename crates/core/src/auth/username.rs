//! Usernames: 3–32 of `[A-Za-z0-9_.-]`, unique regardless of case.

use crate::error::{Error, ErrorCode};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let len = raw.chars().count();
        if !(3..=32).contains(&len) {
            return Err(Error::validation(
                "username",
                "A username has 3 to 32 characters.",
            ));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            return Err(Error::new(
                ErrorCode::ValidationError,
                "A username may only use letters, digits, `_`, `.` and `-`.",
            )
            .detail("field", "username"));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form compared for uniqueness and login (case-insensitive).
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_usernames() {
        for ok in ["abc", "Alice_01", "a.b-c", &"x".repeat(32)] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            Username::parse("AlIcE").map(|u| u.key()).ok().as_deref(),
            Some("alice")
        );
    }

    #[test]
    fn invalid_usernames_name_the_field() {
        for bad in [
            "",
            "ab",
            &"x".repeat(33),
            "has space",
            "ünï",
            "a/b",
            "a@b",
            "a\0b",
            "<script>",
        ] {
            let e = Username::parse(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert_eq!(e.code(), ErrorCode::ValidationError, "{bad}");
            assert_eq!(e.details()["field"], "username");
        }
    }
}
