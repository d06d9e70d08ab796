//! `users`: accounts, their roles and statuses.

use crate::statements;

/// The columns a user row is read by (`UserRow`), in this order.
macro_rules! user_columns {
    () => {
        "id, username, display_name, email, password_hash, role, status, created_at"
    };
}

/// The columns a user row is read by (`UserRow`).
pub const COLUMNS: &str = user_columns!();

statements! {
    /// User `?1`.
    BY_ID = concat!("SELECT ", user_columns!(), " FROM users WHERE id = ?");
    /// The user whose username key (its case-folded form) is `?1`.
    BY_USERNAME_KEY = concat!("SELECT ", user_columns!(), " FROM users WHERE username_key = ?");
    /// The first page of users, newest first, at most `?1`.
    FIRST_PAGE = concat!("SELECT ", user_columns!(), " FROM users ORDER BY created_at DESC, id DESC LIMIT ?");
    /// The users registered before `?1` (ties: ids before `?2`), newest first, at most `?3`.
    PAGE_AFTER = concat!(
        "SELECT ", user_columns!(), " FROM users WHERE (created_at, id) < (?, ?)
          ORDER BY created_at DESC, id DESC LIMIT ?"
    );
    /// User `?3`'s password hash is `?1`, changed at `?2`.
    SET_PASSWORD = "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?";
    /// User `?4`'s display name `?1` and email `?2`, changed at `?3`.
    SET_PROFILE = "UPDATE users SET display_name = ?, email = ?, updated_at = ? WHERE id = ?";
    /// How many users there are (column `n`).
    COUNT = "SELECT COUNT(*) AS n FROM users";
    /// Registers user `?1`: username, its key, display name, email, password hash, role, status, created and updated at.
    INSERT = "INSERT INTO users (id, username, username_key, display_name, email, password_hash, role, status, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    /// How many active admins there are besides user `?1` (column `n`).
    OTHER_ACTIVE_ADMINS = "SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND status = 'active' AND id != ?";
    /// User `?4`'s role `?1` and status `?2`, changed at `?3`.
    SET_ROLE_AND_STATUS = "UPDATE users SET role = ?, status = ?, updated_at = ? WHERE id = ?";
}

/// Deletes every row of user `?1`, in this order, within one transaction: what hangs off a
/// session first, the user's own row last. A conversation's messages, tags and share link go
/// with it by trigger (0003_conversations.sql).
pub const DELETE_ALL_OF: &[&str] = &[
    "DELETE FROM spent_refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE user_id = ?)",
    "DELETE FROM sessions WHERE user_id = ?",
    "DELETE FROM api_keys WHERE user_id = ?",
    "DELETE FROM conversations WHERE user_id = ?",
    crate::generations::DELETE_OF_USER,
    "DELETE FROM usage WHERE user_id = ?",
    "DELETE FROM user_quotas WHERE user_id = ?",
    "DELETE FROM users WHERE id = ?",
];

/// The built statements, for the schema test.
pub fn built() -> Vec<(String, String)> {
    DELETE_ALL_OF
        .iter()
        .enumerate()
        .map(|(i, sql)| (format!("DELETE_ALL_OF[{i}]"), sql.to_string()))
        .collect()
}
