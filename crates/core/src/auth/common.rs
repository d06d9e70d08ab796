//! Is a (lowercased) password on the bundled list of common passwords? See `data/README.md`.

use sha2::{Digest, Sha256};

static LIST: &[u8] = include_bytes!("../../data/common-passwords.bin");

pub fn is_common(lower: &str) -> bool {
    let digest = Sha256::digest(lower.as_bytes());
    let needle = [digest[0], digest[1], digest[2], digest[3]];
    let (mut lo, mut hi) = (0usize, LIST.len() / 4);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let entry = &LIST[mid * 4..mid * 4 + 4];
        match entry.cmp(&needle[..]) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_listed_passwords_only() {
        assert_eq!(super::LIST.len() % 4, 0);
        assert!(super::is_common("passwordpassword"));
        assert!(super::is_common("qwertyuiopasdf"));
        assert!(!super::is_common("correct horse battery staple"));
    }
}
