//! `user_quotas`: the token quotas an admin gave a user.

use crate::statements;

statements! {
    /// User `?1` has the default quotas again.
    CLEAR = "DELETE FROM user_quotas WHERE user_id = ?";
    /// User `?1`'s own quotas: tokens per day and per month.
    SET = "INSERT INTO user_quotas (user_id, tokens_per_day, tokens_per_month) VALUES (?, ?, ?)
        ON CONFLICT (user_id) DO UPDATE SET
            tokens_per_day = excluded.tokens_per_day,
            tokens_per_month = excluded.tokens_per_month";
    /// User `?1`'s own quotas, if an admin set them.
    OF_USER = "SELECT tokens_per_day, tokens_per_month FROM user_quotas WHERE user_id = ?";
}
