//! `generations`: one row per answer being generated (native chat, regenerate, `/v1`), from
//! its registration to its end. The row is the per-user limit of answers at once, the way
//! `stop` reaches an answer running on another instance or replica, the count of answers in
//! flight per Ollama server, and a heartbeat: a row whose heartbeat is older than the stale
//! time (given as a parameter, `chat`'s `stale_before`) belongs to an instance that died, and
//! counts for nothing.

use crate::statements;

/// The live answers of user `?{user}` (heartbeat after `?{stale}`): a subquery, for the
/// statements that check the per-user limit alongside their own work.
pub fn running_of(user: u8, stale: u8) -> String {
    format!(
        "(SELECT COUNT(*) FROM generations WHERE user_id = ?{user} AND heartbeat_at > ?{stale})"
    )
}

/// The registration, with `server` the statement part that gives the server (`?7`).
macro_rules! register {
    ($server:literal) => {
        concat!(
            "INSERT INTO generations (id, user_id, conversation_id, started_at, heartbeat_at, server)
             SELECT ?1, ?2, ?3, ?4, ?4, ",
            $server,
            "
              WHERE (SELECT COUNT(*) FROM generations WHERE user_id = ?2 AND heartbeat_at > ?5) < ?6
             RETURNING server"
        )
    };
}

statements! {
    /// Registers answer `?1` of user `?2` in conversation `?3` (`''` for `/v1`) at time `?4`,
    /// if the user has fewer than `?6` live answers (stale time `?5`), on server `?7`. Returns
    /// the server; no row: over the limit.
    REGISTER_ON = register!("?7");
    /// As [`REGISTER_ON`], on the one of the servers in the JSON array `?7` with the fewest live
    /// answers, ties to the earlier. It runs inside the write that registers the answer, so
    /// answers starting at once see each other.
    REGISTER_LEAST_BUSY = register!(
        "(SELECT c.value FROM json_each(?7) AS c
           ORDER BY (SELECT COUNT(*) FROM generations g
                      WHERE g.server = c.value AND g.heartbeat_at > ?5), c.key
           LIMIT 1)"
    );
    /// Answer `?2` is alive at time `?1`.
    HEARTBEAT = "UPDATE generations SET heartbeat_at = ?1 WHERE id = ?2";
    /// Answer `?2` failed over to server `?1`: it counts there now.
    MOVE_TO = "UPDATE generations SET server = ?1 WHERE id = ?2";
    /// Answer `?1` has ended (or never began).
    END = "DELETE FROM generations WHERE id = ?1";
    /// Whether a stop was asked for answer `?1` (column `n`: 0 or 1; no row once it ended).
    STOP_REQUESTED = "SELECT stop_requested AS n FROM generations WHERE id = ?1";
    /// Asks the live answers of conversation `?1` of user `?2` (stale time `?3`) to stop; one
    /// row per answer flagged.
    REQUEST_STOP = "UPDATE generations SET stop_requested = 1
                     WHERE conversation_id = ?1 AND user_id = ?2 AND heartbeat_at > ?3
                    RETURNING 1";
    /// How many answers of conversation `?1` of user `?2` are still live (stale time `?3`),
    /// as column `n`.
    LIVE_IN_CONVERSATION = "SELECT COUNT(*) AS n FROM generations
                             WHERE conversation_id = ?1 AND user_id = ?2 AND heartbeat_at > ?3";
    /// Every row of user `?1` (the user is being deleted).
    DELETE_OF_USER = "DELETE FROM generations WHERE user_id = ?1";
}

/// The built statements, for the schema test.
pub fn built() -> Vec<(String, String)> {
    vec![("running_of".into(), format!("SELECT {}", running_of(1, 2)))]
}
