//! `api_keys`: keys looked up by keyed hash, revoked (or rotated) by `valid_until`.

use crate::statements;

statements! {
    /// Creates API key `?1` of user `?2`: name, prefix, hash, created at, expires at, tokens per day.
    INSERT = "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, created_at, expires_at,
                              max_tokens_per_day)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    /// Key `?2` of user `?3` stops being valid at `?1`, if it is valid after `?4`; a row if it was.
    REVOKE = "UPDATE api_keys SET valid_until = ?
         WHERE id = ? AND user_id = ? AND (valid_until IS NULL OR valid_until > ?)
        RETURNING 1";
    /// User `?1`'s keys still valid at `?2`, newest first.
    LIST = "SELECT id, name, prefix, created_at, expires_at, last_used_at, max_tokens_per_day FROM api_keys
        WHERE user_id = ? AND (valid_until IS NULL OR valid_until > ?)
        ORDER BY created_at DESC";
    /// Key `?1` of user `?2`, if valid at `?3`.
    VALID = "SELECT name, expires_at, max_tokens_per_day FROM api_keys
        WHERE id = ? AND user_id = ? AND (valid_until IS NULL OR valid_until > ?)";
    /// Key `?2` is valid until `?1` (a rotated key's grace).
    VALID_UNTIL = "UPDATE api_keys SET valid_until = ? WHERE id = ?";
    /// The key whose hash is `?1`, with its user's role and status, if unexpired at `?2` and valid at `?3`.
    CHECK = "SELECT k.id, k.user_id, k.last_used_at, u.role, u.status
         FROM api_keys k JOIN users u ON u.id = k.user_id
        WHERE k.key_hash = ?
          AND (k.expires_at IS NULL OR k.expires_at > ?)
          AND (k.valid_until IS NULL OR k.valid_until > ?)";
    /// Key `?2` was used at `?1`.
    USED = "UPDATE api_keys SET last_used_at = ? WHERE id = ?";
}
