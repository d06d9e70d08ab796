//! `usage`: requests and tokens per user, UTC day, API key and model.

use crate::statements;

statements! {
    /// The caller's standing before an answer, in one statement (the usage rows of a month
    /// are a few per day and model): user `?1`'s tokens on day `?2` and since month start
    /// `?3`, key `?4`'s today (`''`: none), their quotas, rate-limit key `?5`'s counter, and
    /// with a stale time `?6` (NULL: not counted) the user's live answers.
    STANDING = "SELECT
    (SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM usage
      WHERE user_id = ?1 AND day = ?2) AS used_today,
    (SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM usage
      WHERE user_id = ?1 AND day >= ?3) AS used_month,
    (SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM usage
      WHERE user_id = ?1 AND day = ?2 AND key_id = ?4 AND ?4 <> '') AS key_today,
    (SELECT tokens_per_day FROM user_quotas WHERE user_id = ?1) AS day_limit,
    (SELECT tokens_per_month FROM user_quotas WHERE user_id = ?1) AS month_limit,
    (SELECT max_tokens_per_day FROM api_keys WHERE id = ?4 AND user_id = ?1) AS key_limit,
    (SELECT count FROM rate_limits WHERE key = ?5) AS rl_count,
    (SELECT window_start FROM rate_limits WHERE key = ?5) AS rl_start,
    CASE WHEN ?6 IS NULL THEN 0 ELSE
      (SELECT COUNT(*) FROM generations WHERE user_id = ?1 AND heartbeat_at > ?6) END AS running";
    /// One answer of user `?1` on day `?2` with key `?3` (or '') and model `?4`: its prompt and completion tokens `?5`, `?6`.
    RECORD = "INSERT INTO usage (user_id, day, key_id, model, requests, prompt_tokens, completion_tokens)
        VALUES (?, ?, ?, ?, 1, ?, ?)
        ON CONFLICT (user_id, day, key_id, model) DO UPDATE SET
            requests = requests + 1,
            prompt_tokens = prompt_tokens + excluded.prompt_tokens,
            completion_tokens = completion_tokens + excluded.completion_tokens";
}

/// The usage report's statement: rows grouped by `column` (`user_id`, `day`, `model` or
/// `key_id`), with each user's name if `with_username`, over days `?1` to `?2`, of user `?3`
/// only if `of_one_user`.
pub fn report(column: &str, with_username: bool, of_one_user: bool) -> String {
    let username = if with_username {
        "(SELECT username FROM users WHERE id = usage.user_id)"
    } else {
        "NULL"
    };
    let mine = if of_one_user { "AND user_id = ?3" } else { "" };
    format!(
        "SELECT {column} AS k, {username} AS username, SUM(requests) AS requests,
                SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens
           FROM usage WHERE day BETWEEN ?1 AND ?2 {mine}
          GROUP BY {column} ORDER BY {column}"
    )
}

/// The columns a report may group by.
pub const REPORT_COLUMNS: &[&str] = &["user_id", "day", "model", "key_id"];

/// The built statements in each of their shapes, for the schema test.
pub fn built() -> Vec<(String, String)> {
    let mut all = Vec::new();
    for column in REPORT_COLUMNS {
        for (with_username, of_one_user) in [(false, false), (true, false), (false, true)] {
            let shape = format!("report({column}, {with_username}, {of_one_user})");
            all.push((shape, report(column, with_username, of_one_user)));
        }
    }
    all
}
