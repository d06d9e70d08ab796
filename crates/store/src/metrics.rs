//! `metric_counters` (the counters every instance adds to) and the gauges `/metrics` reads.

use crate::statements;

statements! {
    /// How many users there are of each status.
    USERS_BY_STATUS = "SELECT status, COUNT(*) AS n FROM users GROUP BY status ORDER BY status";
    /// How many conversations there are (column `n`).
    CONVERSATIONS = "SELECT COUNT(*) AS n FROM conversations";
    /// How many messages there are (column `n`).
    MESSAGES = "SELECT COUNT(*) AS n FROM messages";
    /// Adds the counts in the JSON array `?1` of `[name, labels, value]` to the shared counters.
    ADD = "INSERT INTO metric_counters (name, labels, value)
        SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
          FROM json_each(?) WHERE true
        ON CONFLICT(name, labels) DO UPDATE SET value = value + excluded.value";
    /// Every shared counter.
    COUNTERS = "SELECT name, labels, value FROM metric_counters ORDER BY name, labels";
}
