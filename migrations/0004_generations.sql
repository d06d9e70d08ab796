-- 0004: answers being generated (chat component).
--
-- One row per running generation. It is the per-user concurrency guard (counted inside a
-- write transaction), the way `stop` reaches a generation running in another instance or
-- replica (`stop_requested`, read by the generating loop), and a heartbeat, so a row left by
-- an instance that died is recognised as stale instead of blocking its user forever.
CREATE TABLE generations (
    id                   TEXT PRIMARY KEY,      -- the assistant message's id
    user_id              TEXT NOT NULL,
    conversation_id      TEXT NOT NULL,
    started_at           TEXT NOT NULL,
    heartbeat_at         TEXT NOT NULL,
    stop_requested       INTEGER NOT NULL DEFAULT 0 CHECK (stop_requested IN (0, 1))
) STRICT;

CREATE INDEX generations_user ON generations (user_id, heartbeat_at);
CREATE INDEX generations_conversation ON generations (conversation_id);
