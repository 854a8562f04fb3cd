//! Search across sessions on a table large enough for windows of recent ids: whichever way
//! the candidates are found, the hits are the best of the 500 newest matches, as reading
//! every match finds them.

use argus_core::{SearchQuery, SessionStore};
use argus_memory::PostgresMemory;
use sqlx::{Connection, Executor, PgConnection};

use crate::fixture::{Backend, TestDb};

/// 100,000 messages in 1,000 sessions, each word in them repeated more often the older the
/// message (so the oldest candidates rank best, and ranking one too many or too few shows):
/// `spark` in every 3rd (found walking the newest messages); `tide` in every 55th (a window
/// of recent ids holds enough); `fern` in every 51st of the oldest 69,618 and every 70th
/// after (a first window finds too few, a wider one enough); `ember` in every 40th of the
/// oldest 60,000 and every 400th after (a window finds too few, then every match is read);
/// `moss` in 40 (every match read at once).
const FILL: &str = "
    INSERT INTO sessions (id, title, created_at_ms, updated_at_ms, message_count)
    SELECT 's' || s, 'Session ' || s, 0, 0, 100 FROM generate_series(0, 999) s;
    INSERT INTO messages (session_seq, position, role, text, words)
    SELECT seq, p, 'user', t, to_tsvector('simple', t) FROM (
        SELECT s.seq, p, concat_ws(' ', 'message', n::text,
                   CASE WHEN n % 3 = 0 THEN repeat('spark ', r) END,
                   CASE WHEN n % 55 = 0 THEN repeat('tide ', r) END,
                   CASE WHEN (n < 69618 AND n % 51 = 0) OR (n >= 69618 AND n % 70 = 0)
                        THEN repeat('fern ', r) END,
                   CASE WHEN (n < 60000 AND n % 40 = 0) OR (n >= 60000 AND n % 400 = 0)
                        THEN repeat('ember ', r) END,
                   CASE WHEN n % 2500 = 7 THEN repeat('moss ', r) END) AS t
        FROM sessions s, generate_series(0, 99) p,
             LATERAL (SELECT ((s.seq - 1) * 100 + p)::int AS n) k,
             LATERAL (SELECT 1 + (99999 - n) / 10000 AS r) age
        ORDER BY s.seq, p
    ) rows;
    ANALYZE;
";

/// The best `limit` of the 500 newest matches of `word`, by reading every match.
const EVERY_MATCH: &str = "
    WITH candidates AS (
        SELECT m.id, m.session_seq, m.position, m.words FROM messages m
        WHERE m.words @@ plainto_tsquery('simple', $1) ORDER BY m.id DESC LIMIT 500
    )
    SELECT s.id, c.position FROM candidates c JOIN sessions s ON s.seq = c.session_seq
    ORDER BY ts_rank(c.words, plainto_tsquery('simple', $1)) DESC, c.id DESC LIMIT $2";

#[tokio::test]
async fn every_way_to_the_candidates_ranks_the_500_newest_matches() -> anyhow::Result<()> {
    let Some(db) = TestDb::new(Backend::Postgres).await? else {
        return Ok(());
    };
    let url = db.location();
    let memory = PostgresMemory::connect(&url).await?;
    let mut conn = PgConnection::connect(&url).await?;
    conn.execute(FILL).await?;
    for word in ["spark", "tide", "fern", "ember", "moss"] {
        let mut expected: Vec<(String, i64)> = sqlx::query_as(EVERY_MATCH)
            .bind(word)
            .bind(25_i64)
            .fetch_all(&mut conn)
            .await?;
        assert_eq!(expected.len(), 25, "{word}");
        let hits = memory.search(&SearchQuery::new(word).limit(25)).await?;
        let mut found: Vec<(String, i64)> = hits
            .iter()
            .map(|hit| (hit.session_id.to_string(), hit.position as i64))
            .collect();
        // The store orders equal scores by session and position, the query above by id.
        found.sort();
        expected.sort();
        assert_eq!(found, expected, "{word}");
    }
    conn.close().await?;
    memory.close().await;
    Ok(())
}
