//! Full-text search with SQLite FTS5: bm25 ranking and snippets.

use argus_core::{MemoryError, SearchHit, SearchQuery};
use sqlx::SqlitePool;

use super::db;
use crate::rows::{search_words, HitRow};

/// Tokens of context around a match in a snippet.
const SNIPPET_TOKENS: i64 = 24;

/// The FTS5 query for a user's text: each word quoted (so no text can be FTS5 syntax),
/// all words required. `None` when the text has no words.
///
/// Words are split like FTS5's `unicode61` tokenizer splits them.
pub(crate) fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = search_words(text)
        .into_iter()
        .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// How many of the most recent matches are ranked. Ranking costs a lookup per match, so a
/// word found in hundreds of thousands of messages would take hundreds of milliseconds; a
/// query with fewer matches than this (nearly all) is ranked over all of them.
const RANKED_CANDIDATES: i64 = 2_000;

/// Runs `query`, best hits first.
///
/// Three stages: the most recent [`RANKED_CANDIDATES`] matches (index order, cheap), the best
/// `limit` of them by bm25 rank, then snippets and message details for those few only (a
/// snippet re-reads and re-tokenizes its text).
pub(crate) async fn search(
    pool: &SqlitePool,
    query: &SearchQuery,
) -> Result<Vec<SearchHit>, MemoryError> {
    let Some(terms) = fts_query(&query.text) else {
        return Ok(Vec::new());
    };
    if query.limit == 0 {
        return Ok(Vec::new());
    }
    let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
    // Words only match message text, never the session column.
    let mut fts = format!("text : ({terms})");
    if let Some(session) = &query.session {
        let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM sessions WHERE id = ?1")
            .bind(session.as_str())
            .fetch_optional(pool)
            .await
            .map_err(db("looking up the session to search"))?;
        let Some(seq) = seq else {
            return Ok(Vec::new());
        };
        fts = format!("session_seq : \"{seq}\" AND {fts}");
    }
    let rows: Vec<HitRow> = sqlx::query_as(&format!(
        "WITH candidates AS (
             SELECT rowid AS id FROM messages_fts
             WHERE messages_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?3
         ),
         top AS (
             SELECT rowid AS id, rank AS rank_ FROM messages_fts
             WHERE messages_fts MATCH ?1 AND rowid >= (SELECT min(id) FROM candidates)
             ORDER BY rank LIMIT ?2
         )
         SELECT s.id AS session_id, m.position, m.role,
                (SELECT snippet(messages_fts, 0, '', '', '…', {SNIPPET_TOKENS})
                 FROM messages_fts WHERE messages_fts MATCH ?1 AND rowid = top.id) AS snippet,
                -- bm25 is lower for better matches; hits score higher for better matches.
                -top.rank_ AS score
         FROM top
         JOIN messages m ON m.id = top.id
         JOIN sessions s ON s.seq = m.session_seq
         ORDER BY top.rank_, s.id, m.position"
    ))
    .bind(&fts)
    .bind(limit)
    .bind(RANKED_CANDIDATES)
    .fetch_all(pool)
    .await
    .map_err(db("searching messages"))?;
    rows.into_iter().map(HitRow::into_hit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_is_quoted_and_syntax_is_inert() {
        assert_eq!(fts_query("cat sat").as_deref(), Some("\"cat\" \"sat\""));
        assert_eq!(
            fts_query("a AND (b OR c*) NEAR \"d\" -e:f ^g").as_deref(),
            Some("\"a\" \"AND\" \"b\" \"OR\" \"c\" \"NEAR\" \"d\" \"e\" \"f\" \"g\"")
        );
        assert_eq!(
            fts_query("ünïcödé 東京").as_deref(),
            Some("\"ünïcödé\" \"東京\"")
        );
    }

    #[test]
    fn text_without_words_is_no_query() {
        for text in ["", "   ", "!!!", "\"*\" ( ) - ^ :", "\u{301}"] {
            assert_eq!(fts_query(text), None, "{text:?}");
        }
    }
}
