//! `app_meta`: values the app makes once and shares (the generated signing secret).

use crate::statements;

statements! {
    /// App value `?1` is `?2`, unless it has one.
    SET_ONCE = "INSERT OR IGNORE INTO app_meta (key, value) VALUES (?, ?)";
    /// App value `?1`.
    GET = "SELECT value FROM app_meta WHERE key = ?";
}
