-- Argus memory, schema version 2: search within one session without visiting every
-- session's matches.
--
-- The full-text index gets a second column, the message's session key, so a scoped search
-- is one FTS5 query (`session_seq : "N" AND text : (...)`) that intersects doclists.
-- Ranking ignores that column (bm25 weight 0). Existing indexes are rebuilt from `messages`.

DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP TABLE messages_fts;

CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text,
    session_seq,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

INSERT INTO messages_fts (messages_fts, rank) VALUES ('rank', 'bm25(1.0, 0.0)');

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text, session_seq) VALUES (new.id, new.text, new.session_seq);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text, session_seq)
    VALUES ('delete', old.id, old.text, old.session_seq);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, session_seq ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text, session_seq)
    VALUES ('delete', old.id, old.text, old.session_seq);
    INSERT INTO messages_fts (rowid, text, session_seq) VALUES (new.id, new.text, new.session_seq);
END;

INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
