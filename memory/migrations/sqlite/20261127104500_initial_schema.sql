-- Argus memory, schema version 1.
--
-- Never edit this file once released: sqlx stores its checksum in `_sqlx_migrations` and
-- refuses databases whose history does not match. Change the schema with a new file.

-- A conversation. `seq` is the internal key every other table refers to; `id` is the
-- user-visible session id.
CREATE TABLE sessions (
    seq           INTEGER PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    title         TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    metadata      TEXT    NOT NULL DEFAULT 'null', -- JSON
    message_count INTEGER NOT NULL DEFAULT 0 CHECK (message_count >= 0)
);

CREATE INDEX sessions_by_update ON sessions (updated_at_ms DESC, id);

-- Images, stored once per content hash and referenced from message parts. `data` is NULL
-- while only a reference without bytes has been seen.
CREATE TABLE images (
    sha256     TEXT    PRIMARY KEY NOT NULL CHECK (length(sha256) = 64),
    media_type TEXT    NOT NULL,
    byte_len   INTEGER NOT NULL,
    width      INTEGER,
    height     INTEGER,
    data       BLOB
);

-- The run log: one row per agent run, one per committed step.
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY, -- creation order: the last run has the largest id
    session_seq   INTEGER NOT NULL REFERENCES sessions (seq) ON DELETE CASCADE,
    run_id        TEXT    NOT NULL,
    started_at_ms INTEGER NOT NULL,
    steps         INTEGER NOT NULL DEFAULT 0,
    finished      INTEGER NOT NULL DEFAULT 0 CHECK (finished IN (0, 1)),
    UNIQUE (session_seq, run_id)
);

CREATE INDEX runs_by_session ON runs (session_seq, id);

-- A step's messages are the session's messages at positions
-- [first_position, first_position + message_count).
CREATE TABLE steps (
    seq                  INTEGER PRIMARY KEY, -- commit order
    run                  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx                  INTEGER NOT NULL CHECK (idx >= 0),
    committed_at_ms      INTEGER NOT NULL,
    first_position       INTEGER NOT NULL,
    message_count        INTEGER NOT NULL,
    prompt_tokens        INTEGER NOT NULL,
    completion_tokens    INTEGER NOT NULL,
    cached_prompt_tokens INTEGER NOT NULL,
    prompt_ms            REAL,
    completion_ms        REAL,
    is_final             INTEGER NOT NULL CHECK (is_final IN (0, 1)),
    UNIQUE (run, idx)
);

-- Messages in session order. `text` is all text parts joined: what full-text search indexes.
-- The tool_* columns describe a tool message's result (NULL for other roles).
CREATE TABLE messages (
    id               INTEGER PRIMARY KEY,
    session_seq      INTEGER NOT NULL REFERENCES sessions (seq) ON DELETE CASCADE,
    position         INTEGER NOT NULL CHECK (position >= 0),
    role             TEXT    NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    text             TEXT    NOT NULL,
    tool_call_id     TEXT,
    tool_name        TEXT,
    tool_error       TEXT,    -- ToolErrorKind, snake_case; NULL when the call succeeded
    tool_duration_us INTEGER,
    UNIQUE (session_seq, position)
);

-- System messages are always part of the context: find them without scanning the session.
CREATE INDEX messages_system ON messages (session_seq, position) WHERE role = 'system';

-- A message's content parts in order. A text part whose `text` is NULL is the message's only
-- text part, stored once in `messages.text`. `image_data` records whether the reference
-- carried the bytes when it was written, so it reads back the same way.
CREATE TABLE message_parts (
    message_id   INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    ord          INTEGER NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('text', 'image')),
    text         TEXT,
    image_sha256 TEXT REFERENCES images (sha256),
    image_data   INTEGER NOT NULL DEFAULT 0 CHECK (image_data IN (0, 1)),
    PRIMARY KEY (message_id, ord),
    CHECK ((kind = 'image') = (image_sha256 IS NOT NULL))
) WITHOUT ROWID;

CREATE INDEX message_parts_by_image ON message_parts (image_sha256) WHERE image_sha256 IS NOT NULL;

-- The tool calls of assistant messages, in order. `arguments` is JSON.
CREATE TABLE tool_calls (
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    ord        INTEGER NOT NULL,
    call_id    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    arguments  TEXT    NOT NULL,
    PRIMARY KEY (message_id, ord)
) WITHOUT ROWID;

-- Full-text index over message text, kept in step with `messages` by triggers.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;
