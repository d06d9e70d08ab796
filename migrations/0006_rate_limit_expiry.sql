-- 0006: rate-limit counters are deleted once their window is over.
--
-- There is a counter per user and class, and one per client address for the sign-in routes,
-- so until now the table kept a row for every address that ever called. Each counter now
-- records when its window ends (the count's upsert sets it). Inserting a counter for a new key
-- (the only way the table grows) looks at 64 counters from a random place and deletes those
-- whose windows have ended: the work runs inside that upsert, is bounded, and needs no index,
-- so counting a known key costs what it did. The table stays within a few percent of the
-- counters still in their window. A key seen again reuses its row, as before.

ALTER TABLE rate_limits ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;  -- unix seconds

-- Counters from before this migration do not say which window they were counted with: a day
-- outlasts the default windows (60 s; 15 min for sign-in failures).
UPDATE rate_limits SET expires_at = window_start + 86400;

-- 64 rowids in order from a random start below the largest rowid less 64 (so from 0 while
-- that is at most 65: a new table is looked at whole); `& 9223372036854775807` keeps the
-- random number non-negative.
CREATE TRIGGER rate_limits_pruned AFTER INSERT ON rate_limits BEGIN
    DELETE FROM rate_limits
     WHERE rowid IN (
            SELECT rowid FROM rate_limits
             WHERE rowid >= (SELECT (random() & 9223372036854775807) % max(1, MAX(rowid) - 64)
                               FROM rate_limits)
             ORDER BY rowid LIMIT 64)
       AND expires_at <= NEW.window_start;
END;
