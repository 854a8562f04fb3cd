-- Argus memory on PostgreSQL, schema version 1: the tables of the SQLite store's schema
-- version 3, with PostgreSQL's own text search in place of FTS5.
--
-- Never edit this file once released: sqlx stores its checksum in `_sqlx_migrations` and
-- refuses databases whose history does not match. Change the schema with a new file.

-- A conversation. `seq` is the internal key every other table refers to; `id` is the
-- user-visible session id.
CREATE TABLE sessions (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT   NOT NULL UNIQUE,
    title         TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    metadata      TEXT   NOT NULL DEFAULT 'null', -- JSON, as written
    message_count BIGINT NOT NULL DEFAULT 0 CHECK (message_count >= 0)
);

CREATE INDEX sessions_by_update ON sessions (updated_at_ms DESC, id);

-- Images, stored once per content hash and referenced from message parts. `data` is NULL
-- while only a reference without bytes has been seen.
CREATE TABLE images (
    sha256     TEXT   PRIMARY KEY CHECK (length(sha256) = 64),
    media_type TEXT   NOT NULL,
    byte_len   BIGINT NOT NULL,
    width      BIGINT,
    height     BIGINT,
    data       BYTEA
);

-- The run log: one row per agent run, one per committed step.
CREATE TABLE runs (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- the last run has the largest id
    session_seq   BIGINT  NOT NULL REFERENCES sessions (seq) ON DELETE CASCADE,
    run_id        TEXT    NOT NULL,
    started_at_ms BIGINT  NOT NULL,
    steps         BIGINT  NOT NULL DEFAULT 0,
    finished      BOOLEAN NOT NULL DEFAULT false,
    UNIQUE (session_seq, run_id)
);

CREATE INDEX runs_by_session ON runs (session_seq, id);

-- A step's messages are the session's messages at positions
-- [first_position, first_position + message_count).
CREATE TABLE steps (
    seq                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- commit order
    run                  BIGINT  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx                  BIGINT  NOT NULL CHECK (idx >= 0),
    committed_at_ms      BIGINT  NOT NULL,
    first_position       BIGINT  NOT NULL,
    message_count        BIGINT  NOT NULL,
    prompt_tokens        BIGINT  NOT NULL,
    completion_tokens    BIGINT  NOT NULL,
    cached_prompt_tokens BIGINT  NOT NULL,
    prompt_ms            DOUBLE PRECISION,
    completion_ms        DOUBLE PRECISION,
    is_final             BOOLEAN NOT NULL,
    UNIQUE (run, idx)
);

-- Messages in session order. `text` is all text parts joined; `words` is its text-search
-- vector: the text lower-cased and without diacritics (folded by Argus, as SQLite's FTS5
-- folds it), split by the `simple` configuration (no stemming, no stop words).
-- The tool_* columns describe a tool message's result (NULL for other roles).
CREATE TABLE messages (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_seq      BIGINT NOT NULL REFERENCES sessions (seq) ON DELETE CASCADE,
    position         BIGINT NOT NULL CHECK (position >= 0),
    role             TEXT   NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    text             TEXT   NOT NULL,
    tool_call_id     TEXT,
    tool_name        TEXT,
    tool_error       TEXT,   -- ToolErrorKind, snake_case; NULL when the call succeeded
    tool_duration_us BIGINT,
    words            TSVECTOR NOT NULL,
    UNIQUE (session_seq, position)
);

-- System messages are always part of the context: find them without scanning the session.
CREATE INDEX messages_system ON messages (session_seq, position) WHERE role = 'system';

CREATE INDEX messages_words ON messages USING GIN (words);

-- A message's content parts in order. A text part whose `text` is NULL is the message's only
-- text part, stored once in `messages.text`. `image_data` records whether the reference
-- carried the bytes when it was written, so it reads back the same way.
CREATE TABLE message_parts (
    message_id   BIGINT  NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    ord          BIGINT  NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('text', 'image')),
    text         TEXT,
    image_sha256 TEXT REFERENCES images (sha256),
    image_data   BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (message_id, ord),
    CHECK ((kind = 'image') = (image_sha256 IS NOT NULL))
);

CREATE INDEX message_parts_by_image ON message_parts (image_sha256) WHERE image_sha256 IS NOT NULL;

-- The tool calls of assistant messages, in order. `arguments` is JSON, as written.
CREATE TABLE tool_calls (
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    ord        BIGINT NOT NULL,
    call_id    TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    arguments  TEXT   NOT NULL,
    PRIMARY KEY (message_id, ord)
);

-- Observations of images under the perceive-then-act vision strategy, by the digest of
-- (model, question, images).
CREATE TABLE observations (
    key_digest    TEXT   PRIMARY KEY,
    model         TEXT   NOT NULL,
    question      TEXT   NOT NULL,
    images        TEXT   NOT NULL, -- SHA-256s, comma-separated, in the order shown
    text          TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL
);
