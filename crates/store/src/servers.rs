//! `ollama_servers`: what every instance and replica shares about the Ollama servers when
//! there are several (model lists, cooldowns); their answers in flight are live
//! `generations` rows.

use crate::statements;

statements! {
    /// Every server's row, then per server its count of live answers (heartbeat after `?1`):
    /// a server row has `in_flight` NULL, a count row only `url` and `in_flight`.
    KNOWN = "SELECT url, models, models_at, cooling_until, last_error, NULL AS in_flight
               FROM ollama_servers
             UNION ALL
             SELECT server, NULL, NULL, NULL, NULL, COUNT(*) FROM generations
              WHERE server IS NOT NULL AND heartbeat_at > ?1 GROUP BY server";
    /// Server `?1`'s model list `?2` (JSON), fetched at `?3`.
    SAVE_MODELS = "INSERT INTO ollama_servers (url, models, models_at) VALUES (?1, ?2, ?3)
                   ON CONFLICT (url) DO UPDATE SET models = ?2, models_at = ?3";
    /// Server `?1` cools down until `?2` after failing with `?3` at `?4`.
    COOL = "INSERT INTO ollama_servers (url, cooling_until, last_error, failed_at)
            VALUES (?1, ?2, ?3, ?4)
            ON CONFLICT (url) DO UPDATE SET cooling_until = ?2, last_error = ?3, failed_at = ?4";
    /// Server `?1`'s model list is forgotten (fetched again on the next request).
    FORGET_MODELS = "UPDATE ollama_servers SET models = NULL, models_at = NULL WHERE url = ?1";
    /// Every server's model list is forgotten (after a pull or a delete).
    FORGET_ALL_MODELS = "UPDATE ollama_servers SET models = NULL, models_at = NULL";
}
