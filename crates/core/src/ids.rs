//! Opaque, time-sortable ids (UUID v7 as 32 lowercase hex digits).

pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

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
    fn ids_sort_by_creation_time() {
        let ids: Vec<String> = (0..200).map(|_| super::new_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(ids.iter().all(|i| i.len() == 32));
    }
}
