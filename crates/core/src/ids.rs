//! Opaque, time-sortable ids (UUID v7 as 32 lowercase hex digits).

pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Path ids are 32 lowercase hex digits; anything else cannot name a row, so it is a plain
/// `404` without a query.
pub fn is_id(raw: &str) -> bool {
    raw.len() == 32
        && raw
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Typed ids: each is known to be one the app could have made (32 lowercase hex digits);
/// anything else names nothing. As a handler's argument one is read from the route's one
/// path parameter, and a parameter that cannot be one is `404 NOT_FOUND` ("<what> not
/// found.") before any lookup (`spin::extract`).
macro_rules! typed_ids {
    ($($(#[$doc:meta])* $name:ident => $what:literal),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// What it names, for "… not found.".
            pub const WHAT: &str = $what;

            /// A new one.
            pub fn generate() -> Self {
                Self(new_id())
            }

            pub fn parse(raw: &str) -> Option<Self> {
                is_id(raw).then(|| Self(raw.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    )*};
}

typed_ids!(
    /// A conversation's id.
    ConversationId => "Conversation",
    /// An account's id.
    UserId => "User",
    /// An API key's id (not the key).
    KeyId => "API key",
    /// A session's id (not its tokens).
    SessionId => "Session",
);

/// The longest id or token the app puts in a path.
const MAX_PATH_ID: usize = 64;

/// Whether `s` could be an id or token the app hands out (1 to 64 of `A-Z a-z 0-9 _ -`). A
/// path parameter that cannot be one names nothing, so it is answered `404 NOT_FOUND` before
/// any lookup, like an id that names nothing.
pub fn could_be_id(s: &str) -> bool {
    (1..=MAX_PATH_ID).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    #[test]
    fn path_ids_have_the_alphabet_and_length_of_ids() {
        assert!(super::could_be_id(&super::new_id()));
        assert!(super::could_be_id("AbC_-9"));
        for bad in ["", "a b", "a\u{0}b", "a/b", "é", "a.b", &"a".repeat(65)] {
            assert!(!super::could_be_id(bad), "{bad:?}");
        }
        assert!(super::could_be_id(&"a".repeat(64)));
    }

    #[test]
    fn conversation_ids_are_ids_the_app_makes() {
        let made = super::new_id();
        assert_eq!(
            super::ConversationId::parse(&made).map(String::from),
            Some(made)
        );
        for bad in [
            "",
            "../etc",
            "ABCDEF0123456789abcdef0123456789",
            &"a".repeat(33),
        ] {
            assert_eq!(super::ConversationId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ids_sort_by_creation_time() {
        let ids: Vec<String> = (0..200).map(|_| super::new_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(ids.iter().all(|i| i.len() == 32));
    }
}
