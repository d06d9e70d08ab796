//! `rate_limits`: a counter per caller and class within its window.

use crate::statements;

statements! {
    /// Counts `?4` for key `?1` at time `?2` in a window of `?3` seconds, starting a new window when the last has ended; the count and the window's start.
    COUNT = "INSERT INTO rate_limits (key, window_start, count, expires_at)
        VALUES (?1, ?2, ?4, ?2 + ?3)
        ON CONFLICT(key) DO UPDATE SET
            count = CASE WHEN window_start + ?3 > ?2 THEN count + ?4 ELSE ?4 END,
            window_start = CASE WHEN window_start + ?3 > ?2 THEN window_start ELSE ?2 END,
            expires_at = CASE WHEN window_start + ?3 > ?2 THEN window_start ELSE ?2 END + ?3
        RETURNING count, window_start";
    /// Forgets key `?1`'s counter.
    RESET = "DELETE FROM rate_limits WHERE key = ?";
}
