//! Search across sessions on a table large enough for windows of recent ids: whichever way
//! the candidates are found, the hits are the best of the 500 newest matches, as reading
//! every match finds them.

use std::sync::{Arc, Mutex};

use argus_core::{SearchHit, SearchQuery, SessionStore};
use argus_memory::PostgresMemory;
use sqlx::{Connection, Executor, PgConnection};

use crate::fixture::{Backend, TestDb};

/// 100,000 messages in 1,000 sessions (ids 1 to 100,000, so blocks of ids 0 to 6), each word
/// in them repeated more often the older the message (so the oldest candidates rank best, and
/// ranking one too many or too few shows): `spark` in every 3rd (found walking the newest
/// messages); `tide` in every 55th (the newest blocks hold enough); `fern` in every 40th of the
/// ids below 65,536 and every 100th after (a first window of blocks finds too few, a wider
/// one enough); `ember` in every 20th below 32,768 and every 400th after (a window finds too
/// few, then every match is read); `moss` in 40 (every match read at once).
const FILL: &str = "
    INSERT INTO sessions (id, title, created_at_ms, updated_at_ms, message_count)
    SELECT 's' || s, 'Session ' || s, 0, 0, 100 FROM generate_series(0, 999) s;
    INSERT INTO messages (session_seq, position, role, text, words)
    SELECT seq, p, 'user', t, to_tsvector('simple', t) FROM (
        SELECT s.seq, p, concat_ws(' ', 'message', n::text,
                   CASE WHEN n % 3 = 0 THEN repeat('spark ', r) END,
                   CASE WHEN n % 55 = 0 THEN repeat('tide ', r) END,
                   CASE WHEN (n < 65535 AND n % 40 = 0) OR (n >= 65535 AND n % 100 = 0)
                        THEN repeat('fern ', r) END,
                   CASE WHEN (n < 32767 AND n % 20 = 0) OR (n >= 32767 AND n % 400 = 0)
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

/// Each word, and the candidates each try of its search took (as the store's debug event
/// names them).
const WAYS: [(&str, &[&str]); 5] = [
    ("spark", &["WalkNewest"]),
    ("tide", &["Window { first: 4, last: 6 }"]),
    (
        "fern",
        &[
            "Window { first: 4, last: 6 }",
            "Window { first: 2, last: 6 }",
        ],
    ),
    ("ember", &["Window { first: 3, last: 6 }", "AllMatches"]),
    ("moss", &["AllMatches"]),
];

#[tokio::test]
async fn every_way_to_the_candidates_ranks_the_500_newest_matches() -> anyhow::Result<()> {
    let Some(db) = TestDb::new(Backend::Postgres).await? else {
        return Ok(());
    };
    let url = db.location();
    let memory = PostgresMemory::connect(&url).await?;
    let mut conn = PgConnection::connect(&url).await?;
    conn.execute(FILL).await?;
    for (word, ways) in WAYS {
        let mut expected: Vec<(String, i64)> = sqlx::query_as(EVERY_MATCH)
            .bind(word)
            .bind(25_i64)
            .fetch_all(&mut conn)
            .await?;
        assert_eq!(expected.len(), 25, "{word}");
        let (hits, tries) = search_recording_tries(&memory, word).await?;
        assert_eq!(tries, ways, "{word}");
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

/// The best 25 hits for `word`, and the candidates of each try, from the store's debug events
/// (`searched messages candidates=… found=…`).
async fn search_recording_tries(
    memory: &PostgresMemory,
    word: &str,
) -> anyhow::Result<(Vec<SearchHit>, Vec<String>)> {
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("argus_memory::postgres::search=debug")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .without_time()
        .finish();
    // The test's runtime is single-threaded: the search runs on this thread.
    let hits = {
        let _default = tracing::subscriber::set_default(subscriber);
        memory.search(&SearchQuery::new(word).limit(25)).await?
    };
    let text = String::from_utf8(log.0.lock().expect("log").clone())?;
    let tries = text
        .lines()
        .filter_map(|line| {
            line.split_once("searched messages candidates=")?
                .1
                .split_once(" found=")
        })
        .map(|(candidates, _)| candidates.to_owned())
        .collect();
    Ok((hits, tries))
}

/// Formatted events, shared with the subscriber's writer.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
