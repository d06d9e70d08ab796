//! `sessions` and `spent_refresh_tokens`: a sign-in's refresh token, rotated on every
//! refresh; a spent token presented again ends its session (it leaked).

use crate::statements;

statements! {
    /// Starts session `?1` of user `?2`: refresh hash, created, last used, expires at, user agent, IP.
    INSERT = "INSERT INTO sessions (id, user_id, refresh_hash, created_at, last_used_at, expires_at, user_agent, ip)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    /// The live session whose refresh token hashes to `?1` (expiring after `?2`).
    BY_REFRESH = "SELECT id, user_id FROM sessions
        WHERE refresh_hash = ? AND revoked_at IS NULL AND expires_at > ?";
    /// The session whose spent refresh token hashes to `?1` (a replay).
    BY_SPENT = "SELECT s.id, s.user_id FROM spent_refresh_tokens t JOIN sessions s ON s.id = t.session_id
        WHERE t.hash = ?";
    /// Session `?4`'s refresh hash `?5` becomes `?1`, used at `?2`, expiring at `?3`, if still live; a row if it did.
    ROTATE = "UPDATE sessions SET refresh_hash = ?, last_used_at = ?, expires_at = ?
         WHERE id = ? AND refresh_hash = ? AND revoked_at IS NULL
        RETURNING 1";
    /// Refresh token hash `?1` of session `?2` was spent at `?3`.
    SPEND = "INSERT OR IGNORE INTO spent_refresh_tokens (hash, session_id, spent_at) VALUES (?, ?, ?)";
    /// Session `?2` of user `?3` is revoked at `?1`.
    REVOKE = "UPDATE sessions SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL";
    /// The ids of user `?1`'s sessions not revoked.
    LIVE_OF_USER = "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL";
    /// The session of user `?2` whose refresh token hashes to `?1`.
    BY_REFRESH_OF_USER = "SELECT id FROM sessions WHERE refresh_hash = ? AND user_id = ?";
    /// User `?1`'s live sessions (expiring after `?2`), newest first.
    LIST = "SELECT id, created_at, last_used_at, expires_at, user_agent, ip FROM sessions
        WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
        ORDER BY created_at DESC";
    /// Whether session `?1` of user `?2` is live (column `found`).
    FIND_LIVE = "SELECT 1 AS found FROM sessions WHERE id = ? AND user_id = ? AND revoked_at IS NULL";
}
