-- 0009: token quotas (API.md, "Usage and quotas").
--
-- A user's own limits, set by an admin; a user without a row (or a NULL column) takes the
-- defaults of the `quota_tokens_per_day` / `quota_tokens_per_month` variables, and 0 means
-- no limit. Deleting the row returns the user to the defaults.
CREATE TABLE user_quotas (
    user_id           TEXT PRIMARY KEY,
    tokens_per_day    INTEGER,
    tokens_per_month  INTEGER
) STRICT;

-- An API key's own daily token budget (NULL: none), checked beside its user's quota.
ALTER TABLE api_keys ADD COLUMN max_tokens_per_day INTEGER;
