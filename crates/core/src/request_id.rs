//! Request ids: the client's `x-request-id` when it is a sane token, else a new one.

/// At most 128 of `[A-Za-z0-9._-]`, not empty.
pub fn is_sane(candidate: &str) -> bool {
    !candidate.is_empty()
        && candidate.len() <= 128
        && candidate
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The id for this request: the client's if sane, else a fresh time-ordered one.
pub fn request_id(from_client: Option<&str>) -> String {
    match from_client {
        Some(id) if is_sane(id) => id.to_string(),
        _ => crate::ids::new_id(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_kept_and_others_replaced() {
        assert_eq!(request_id(Some("abc-123_X.y")), "abc-123_X.y");
        let long = "a".repeat(128);
        assert_eq!(request_id(Some(&long)), long);
        for bad in [
            "",
            "has space",
            "semi;colon",
            "ünï",
            &"a".repeat(129),
            "a\nb",
        ] {
            let id = request_id(Some(bad));
            assert_ne!(id, bad);
            assert!(is_sane(&id), "generated id {id:?} must itself be sane");
        }
        assert!(is_sane(&request_id(None)));
    }
}
