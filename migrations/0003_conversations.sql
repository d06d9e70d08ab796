-- 0003: conversations, their messages, full-text search and share links.
--
-- Ownership is kept by the code (every query names the user), and deletion cascades by
-- triggers, which SQLite runs whatever the connection's foreign-key setting.

-- conversations: one row per chat. `seq` is a stable integer key for the full-text index
-- (a table's implicit rowid may change on VACUUM); `id` is what the API shows.
CREATE TABLE conversations (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    user_id       TEXT NOT NULL,
    title         TEXT,
    model         TEXT,
    system_prompt TEXT,
    options       TEXT,                    -- JSON object for Ollama's `options`, or NULL
    pinned        INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
    archived      INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
    tags          TEXT NOT NULL DEFAULT '[]', -- JSON array, as shown; conversation_tags indexes it
    message_count INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;

-- The list: one user's conversations, archived or not, newest `updated_at` first. The first
-- page is an index range scan, whatever the number of conversations.
CREATE INDEX conversations_list ON conversations (user_id, archived, updated_at DESC, id DESC);

-- Tags, one row each, for `?tag=` without scanning every conversation.
CREATE TABLE conversation_tags (
    conversation_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    tag             TEXT NOT NULL,
    PRIMARY KEY (conversation_id, tag)
) STRICT, WITHOUT ROWID;

CREATE INDEX conversation_tags_user ON conversation_tags (user_id, tag);

-- messages: one row per message, never a blob of the whole chat. `seq` orders a
-- conversation's messages (ids made in the same millisecond by two instances need not sort).
CREATE TABLE messages (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content         TEXT NOT NULL,
    thinking        TEXT,
    model           TEXT,
    status          TEXT NOT NULL CHECK (status IN ('complete', 'incomplete', 'error')),
    usage           TEXT,                  -- JSON object from Ollama's final chunk, or NULL
    created_at      TEXT NOT NULL
) STRICT;

CREATE INDEX messages_conversation ON messages (conversation_id, seq);
-- A user's messages, for export of everything.
CREATE INDEX messages_user ON messages (user_id, seq);

-- message_count and updated_at follow the messages, whoever writes them (chat, import).
CREATE TRIGGER messages_counted AFTER INSERT ON messages BEGIN
    UPDATE conversations
       SET message_count = message_count + 1,
           updated_at = max(updated_at, NEW.created_at)
     WHERE id = NEW.conversation_id;
END;

CREATE TRIGGER messages_uncounted AFTER DELETE ON messages BEGIN
    UPDATE conversations SET message_count = message_count - 1 WHERE id = OLD.conversation_id;
END;

-- share_links: at most one live link per conversation. Only a SHA-256 of the token is kept,
-- so the database alone cannot be used to read shared conversations.
CREATE TABLE share_links (
    token_hash      TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL,
    created_at      TEXT NOT NULL
) STRICT;

CREATE INDEX share_links_user ON share_links (user_id);

-- Deleting a conversation deletes its messages, tags and share link.
CREATE TRIGGER conversations_deleted AFTER DELETE ON conversations BEGIN
    DELETE FROM messages WHERE conversation_id = OLD.id;
    DELETE FROM conversation_tags WHERE conversation_id = OLD.id;
    DELETE FROM share_links WHERE conversation_id = OLD.id;
END;

-- Full-text search over message contents and titles (FTS5, external content: the text is
-- stored once, in the tables above). `user_id` is indexed as a token so a search reads only
-- the caller's entries; it carries no weight in ranking.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    user_id, content,
    content = 'messages', content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, user_id, content) VALUES (NEW.seq, NEW.user_id, NEW.content);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, user_id, content)
    VALUES ('delete', OLD.seq, OLD.user_id, OLD.content);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, user_id, content)
    VALUES ('delete', OLD.seq, OLD.user_id, OLD.content);
    INSERT INTO messages_fts (rowid, user_id, content) VALUES (NEW.seq, NEW.user_id, NEW.content);
END;

CREATE VIRTUAL TABLE titles_fts USING fts5(
    user_id, title,
    content = 'conversations', content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER titles_fts_insert AFTER INSERT ON conversations BEGIN
    INSERT INTO titles_fts (rowid, user_id, title) VALUES (NEW.seq, NEW.user_id, NEW.title);
END;

CREATE TRIGGER titles_fts_delete AFTER DELETE ON conversations BEGIN
    INSERT INTO titles_fts (titles_fts, rowid, user_id, title)
    VALUES ('delete', OLD.seq, OLD.user_id, OLD.title);
END;

CREATE TRIGGER titles_fts_update AFTER UPDATE OF title ON conversations BEGIN
    INSERT INTO titles_fts (titles_fts, rowid, user_id, title)
    VALUES ('delete', OLD.seq, OLD.user_id, OLD.title);
    INSERT INTO titles_fts (rowid, user_id, title) VALUES (NEW.seq, NEW.user_id, NEW.title);
END;
