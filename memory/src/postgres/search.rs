//! Full-text search with PostgreSQL's text search: a `tsvector` per message under a GIN
//! index, `ts_rank` ranking and `ts_headline` snippets.

use argus_core::{MemoryError, SearchHit, SearchQuery};
use sqlx::PgPool;

use super::db;
use crate::rows::{folded_for_search, search_words, HitRow};

/// How many of the most recent matches are ranked. Finding them walks the messages newest
/// first until this many matched (a frequent word) or reads every match from the index (a rare
/// one), whichever the planner expects to be cheaper; ranking reads each candidate. Fewer than
/// the SQLite store's 2,000, whose index yields matches newest first at no cost.
const RANKED_CANDIDATES: i64 = 500;

/// Whether the newest matches of `words` across all sessions are found faster by walking the
/// messages newest first than by reading every match from the index: walking visits about
/// `RANKED_CANDIDATES × messages / matches` rows, reading visits `matches`, so it is when the
/// planner's estimate of the matches exceeds `√(RANKED_CANDIDATES × messages)`. (The planner
/// makes this choice itself from the same estimate, but costs a walk as if matches were spread
/// evenly, and at a million messages picks it for words a few thousand messages hold.)
async fn walk_newest_first(pool: &PgPool, words: &str) -> Result<bool, MemoryError> {
    let messages: f64 = sqlx::query_scalar(
        "SELECT reltuples::float8 FROM pg_class WHERE oid = 'messages'::regclass",
    )
    .fetch_one(pool)
    .await
    .map_err(db("estimating a search"))?;
    let plan: serde_json::Value = sqlx::query_scalar(
        "EXPLAIN (FORMAT JSON) SELECT 1 FROM messages WHERE words @@ plainto_tsquery('simple', $1)",
    )
    .bind(words)
    .persistent(false)
    .fetch_one(pool)
    .await
    .map_err(db("estimating a search"))?;
    let matches = plan[0]["Plan"]["Plan Rows"].as_f64().unwrap_or(0.0);
    Ok(matches * matches > RANKED_CANDIDATES as f64 * messages.max(0.0))
}

/// Words of context in a snippet.
const SNIPPET_WORDS: &str = "MaxWords=24, MinWords=12";

/// Runs `query`, best hits first: every word must occur (`plainto_tsquery` over the folded
/// words alone, so no text is query syntax).
///
/// Sent unprepared, so each search is planned for its own words: how often they occur decides
/// between walking the newest messages and reading the index.
pub(crate) async fn search(
    pool: &PgPool,
    query: &SearchQuery,
) -> Result<Vec<SearchHit>, MemoryError> {
    let words = search_words(&folded_for_search(&query.text)).join(" ");
    if words.is_empty() || query.limit == 0 {
        return Ok(Vec::new());
    }
    let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
    // Within one session, positions follow ids: its (session, position) index walks it newest
    // first.
    let (scope, newest_first) = match query.session {
        Some(_) => (
            "m.session_seq = (SELECT seq FROM sessions WHERE id = $2)",
            "m.position DESC",
        ),
        None if walk_newest_first(pool, &words).await? => ("$2::text IS NULL", "m.id DESC"),
        // `+ 0` keeps the planner from walking the primary key: the matches come from the index.
        None => ("$2::text IS NULL", "m.id + 0 DESC"),
    };
    let rows: Vec<HitRow> = sqlx::query_as(&format!(
        "WITH candidates AS (
             SELECT m.id, m.session_seq, m.position, m.role, m.text, m.words
             FROM messages m
             WHERE m.words @@ plainto_tsquery('simple', $1) AND {scope}
             ORDER BY {newest_first} LIMIT $4
         ),
         top AS (
             SELECT c.id, c.session_seq, c.position, c.role, c.text,
                    ts_rank(c.words, plainto_tsquery('simple', $1))::float8 AS score
             FROM candidates c
             ORDER BY score DESC, c.id DESC LIMIT $3
         )
         SELECT s.id AS session_id, top.position, top.role,
                ts_headline('simple', top.text, plainto_tsquery('simple', $1),
                    'StartSel=\"\", StopSel=\"\", {SNIPPET_WORDS}, ShortWord=0') AS snippet,
                top.score
         FROM top JOIN sessions s ON s.seq = top.session_seq
         ORDER BY top.score DESC, s.id, top.position"
    ))
    .bind(&words)
    .bind(query.session.as_ref().map(|id| id.as_str()))
    .bind(limit)
    .bind(RANKED_CANDIDATES)
    .persistent(false)
    .fetch_all(pool)
    .await
    .map_err(db("searching messages"))?;
    rows.into_iter().map(HitRow::into_hit).collect()
}
