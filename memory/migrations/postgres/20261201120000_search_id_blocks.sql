-- Argus memory on PostgreSQL, schema version 2: search windows of recent messages inside the
-- text index, and the planner's counts of more words.
--
-- Never edit this file once released: sqlx stores its checksum in `_sqlx_migrations` and
-- refuses databases whose history does not match. Change the schema with a new file.

-- The block of 16,384 ids a message's id falls in (id >> 14), as a one-lexeme text-search
-- vector. Search across sessions ranks the newest matches: indexed beside `words`, a window
-- of the newest blocks (`id_block @@ '61 | 62 | 63'`) is intersected with a word's matches
-- within one GIN index scan, before any row is fetched.
ALTER TABLE messages
    ADD COLUMN id_block TSVECTOR NOT NULL
    GENERATED ALWAYS AS (array_to_tsvector(ARRAY[(id >> 14)::text])) STORED;

DROP INDEX messages_words;
CREATE INDEX messages_words ON messages USING GIN (words, id_block);

-- Search plans by the planner's count of a word's matches, which it keeps for the most common
-- words only (ten per unit of the statistics target): 10,000 words instead of 1,000.
ALTER TABLE messages ALTER COLUMN words SET STATISTICS 1000;
