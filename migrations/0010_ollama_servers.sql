-- 0010: several Ollama servers (chat component).
--
-- `generations.server` names the server an answer runs on. The answers in flight on a server
-- are its live rows (heartbeat within the stale window), counted by every instance and replica
-- alike; a row left by an instance that died stops counting when its heartbeat goes stale, as
-- it does for the per-user limit. The row that registers an answer picks its server in the
-- same statement, so answers starting at once spread instead of all seeing the same counts.
ALTER TABLE generations ADD COLUMN server TEXT;
CREATE INDEX generations_server ON generations (server, heartbeat_at);

-- What every instance knows of each server: its model list as last fetched from `/api/tags`
-- (a JSON array, refreshed when older than a short while or when no server has a model), and
-- the cooldown a failure put it in. A row appears when a server is first asked about.
CREATE TABLE ollama_servers (
    url            TEXT PRIMARY KEY,
    models         TEXT,               -- JSON array of model objects; NULL until fetched
    models_at      TEXT,               -- when `models` was fetched
    cooling_until  TEXT,               -- skipped until then (after a failure)
    last_error     TEXT,               -- the last failure, in words (no secret: status or kind)
    failed_at      TEXT
) STRICT, WITHOUT ROWID;
