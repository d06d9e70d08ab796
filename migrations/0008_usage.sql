-- 0008: usage, what answers cost, for the usage routes and quotas (API.md, version 1.1).
--
-- One row per user, day, API key and model, added to as answers end (an upsert), so that a
-- month of usage is read from at most a few hundred rows however many answers it holds.
-- `key_id` is '' for calls made with an access token (a primary key column cannot be NULL
-- usefully: NULLs never conflict). `day` is the UTC date the answer ended, `YYYY-MM-DD`.
CREATE TABLE usage (
    user_id            TEXT NOT NULL,
    day                TEXT NOT NULL,
    key_id             TEXT NOT NULL DEFAULT '',
    model              TEXT NOT NULL,
    requests           INTEGER NOT NULL DEFAULT 0,
    prompt_tokens      INTEGER NOT NULL DEFAULT 0,
    completion_tokens  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day, key_id, model)
) STRICT;
