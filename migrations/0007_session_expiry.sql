-- 0007: ended sessions, and old spent refresh tokens, are deleted.
--
-- Until now every sign-in left its session row forever, and every refresh left the token it
-- spent (kept to recognise a replay): a client refreshing every 15 minutes adds about 35,000
-- rows a year. Deleting works as for rate-limit counters (0006): inside the statements that
-- add rows, bounded, without new indexes.

-- A session's spent tokens go with it, however it is deleted.
CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions BEGIN
    DELETE FROM spent_refresh_tokens WHERE session_id = OLD.id;
END;

-- A sign-in looks at 64 sessions from a random place (as 0006 does) and deletes those past
-- their expiry, revoked or not: their refresh tokens are refused either way, and no list
-- shows them.
CREATE TRIGGER sessions_pruned AFTER INSERT ON sessions BEGIN
    DELETE FROM sessions
     WHERE rowid IN (
            SELECT rowid FROM sessions
             WHERE rowid >= (SELECT (random() & 9223372036854775807) % max(1, MAX(rowid) - 64)
                               FROM sessions)
             ORDER BY rowid LIMIT 64)
       AND expires_at <= NEW.created_at;
END;

-- A refresh keeps its session's 100 most recently spent tokens. Replaying one of those still
-- revokes the session (a token stolen within the last 100 refreshes, about a day of use at
-- the default 15-minute access tokens); an older one is refused like any unknown token.
CREATE TRIGGER spent_refresh_tokens_pruned AFTER INSERT ON spent_refresh_tokens BEGIN
    DELETE FROM spent_refresh_tokens
     WHERE hash IN (
            SELECT hash FROM spent_refresh_tokens
             WHERE session_id = NEW.session_id
             ORDER BY spent_at DESC, rowid DESC
             LIMIT -1 OFFSET 100);
END;
