-- 0002: accounts and credentials (auth component).
--
-- SQLite does not enforce foreign keys unless each connection asks, so ownership is kept by
-- the code: deleting a user deletes its rows everywhere in one transaction.

-- users: one row per account. `username_key` is the lowercased username: usernames are
-- unique regardless of case, and login is case-insensitive.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL UNIQUE,
    display_name  TEXT,
    email         TEXT,
    password_hash TEXT NOT NULL,           -- Argon2id PHC string
    role          TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    status        TEXT NOT NULL CHECK (status IN ('active', 'pending', 'disabled')),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;

-- Keyset pagination of the admin user list (newest first).
CREATE INDEX users_created ON users (created_at DESC, id DESC);

-- sessions: one per login. The refresh token rotates on every use; the session is the token
-- family, so presenting a spent token revokes the whole session.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    refresh_hash TEXT NOT NULL UNIQUE,     -- SHA-256 of the current refresh token
    created_at   TEXT NOT NULL,
    last_used_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,            -- slides forward on every refresh
    revoked_at   TEXT,
    user_agent   TEXT,
    ip           TEXT
) STRICT;

CREATE INDEX sessions_user ON sessions (user_id, created_at);

-- Refresh tokens already used, to recognise a replay.
CREATE TABLE spent_refresh_tokens (
    hash       TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    spent_at   TEXT NOT NULL
) STRICT;

CREATE INDEX spent_refresh_tokens_session ON spent_refresh_tokens (session_id);

-- API keys: shown once, stored as a keyed hash. `valid_until` ends a key early (rotation with a
-- grace period, or revocation).
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,     -- HMAC-SHA256 under the server's key pepper
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    valid_until  TEXT
) STRICT;

CREATE INDEX api_keys_user ON api_keys (user_id, created_at);

-- Security events: who did what, when, from where. Never holds a secret.
CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,           -- time-ordered
    at         TEXT NOT NULL,
    user_id    TEXT,
    event      TEXT NOT NULL,
    ip         TEXT,
    user_agent TEXT,
    details    TEXT                        -- JSON
) STRICT;

CREATE INDEX audit_log_user ON audit_log (user_id, at);

-- Fixed-window counters for rate limits, updated atomically with an upsert.
CREATE TABLE rate_limits (
    key          TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,         -- unix seconds
    count        INTEGER NOT NULL
) STRICT;
