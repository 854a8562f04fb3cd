-- Argus memory, schema version 3: observations of images, cached across sessions.
--
-- An agent under the perceive-then-act vision strategy observes new images in one model call
-- without tools. The observation is kept here by the digest of (model, question, images), so
-- the same images asked about the same way are not encoded again, in any session.

CREATE TABLE observations (
    key_digest    TEXT PRIMARY KEY NOT NULL,
    model         TEXT NOT NULL,
    question      TEXT NOT NULL,
    images        TEXT NOT NULL,  -- SHA-256s, comma-separated, in the order shown
    text          TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
