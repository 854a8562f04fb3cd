//! Full-text search with PostgreSQL's text search: a `tsvector` per message under a GIN
//! index, `ts_rank` ranking and `ts_headline` snippets.

use argus_core::{MemoryError, SearchHit, SearchQuery};
use sqlx::PgPool;

use super::db;
use crate::rows::{folded_for_search, search_words, HitRow};

/// How many of the most recent matches are ranked, as in the SQLite store: ranking a word found
/// in hundreds of thousands of messages would read them all.
const RANKED_CANDIDATES: i64 = 2_000;

/// Words of context in a snippet.
const SNIPPET_WORDS: &str = "MaxWords=24, MinWords=12";

/// Runs `query`, best hits first: every word must occur (`plainto_tsquery` over the folded
/// words alone, so no text is query syntax).
pub(crate) async fn search(
    pool: &PgPool,
    query: &SearchQuery,
) -> Result<Vec<SearchHit>, MemoryError> {
    let words = search_words(&folded_for_search(&query.text)).join(" ");
    if words.is_empty() || query.limit == 0 {
        return Ok(Vec::new());
    }
    let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
    let session = query.session.as_ref().map(|id| id.as_str());
    let rows: Vec<HitRow> = sqlx::query_as(&format!(
        "WITH q AS (SELECT plainto_tsquery('simple', $1) AS words),
         candidates AS (
             SELECT m.id FROM messages m, q
             WHERE m.words @@ q.words
               AND ($2::text IS NULL
                    OR m.session_seq = (SELECT seq FROM sessions WHERE id = $2))
             ORDER BY m.id DESC LIMIT $4
         ),
         top AS (
             SELECT m.id, m.session_seq, m.position, m.role, m.text,
                    ts_rank(m.words, q.words)::float8 AS score
             FROM candidates c JOIN messages m ON m.id = c.id, q
             ORDER BY score DESC, m.id DESC LIMIT $3
         )
         SELECT s.id AS session_id, top.position, top.role,
                ts_headline('simple', top.text, q.words,
                    'StartSel=\"\", StopSel=\"\", {SNIPPET_WORDS}, ShortWord=0') AS snippet,
                top.score
         FROM top JOIN sessions s ON s.seq = top.session_seq, q
         ORDER BY top.score DESC, s.id, top.position"
    ))
    .bind(&words)
    .bind(session)
    .bind(limit)
    .bind(RANKED_CANDIDATES)
    .fetch_all(pool)
    .await
    .map_err(db("searching messages"))?;
    rows.into_iter().map(HitRow::into_hit).collect()
}
