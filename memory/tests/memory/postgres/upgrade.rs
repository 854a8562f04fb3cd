//! A database written by an earlier schema is migrated when opened and keeps its messages
//! searchable.

use std::borrow::Cow;
use std::path::Path;

use argus_core::{SearchQuery, SessionId, SessionStore};
use argus_memory::PostgresMemory;
use sqlx::migrate::Migrator;
use sqlx::{Connection, Executor, PgConnection};

use crate::fixture::{Backend, TestDb};

/// One session of 40,000 messages as schema version 1 stores them, `quokka` in every 100th.
const FILL_VERSION_1: &str = "
    INSERT INTO sessions (id, title, created_at_ms, updated_at_ms, message_count)
    VALUES ('old', 'Old', 0, 0, 40000);
    INSERT INTO messages (session_seq, position, role, text, words)
    SELECT 1, p, 'user', t, to_tsvector('simple', t) FROM (
        SELECT p, CASE WHEN p % 100 = 0 THEN 'a quokka ' || p ELSE 'message ' || p END AS t
        FROM generate_series(0, 39999) p
    ) rows;
    ANALYZE;
";

#[tokio::test]
async fn a_database_of_schema_version_1_is_migrated_and_searchable() -> anyhow::Result<()> {
    let Some(db) = TestDb::new(Backend::Postgres).await? else {
        return Ok(());
    };
    let url = db.location();
    let mut conn = PgConnection::connect(&url).await?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut version_1 = Migrator::new(dir).await?;
    version_1.migrations = Cow::Owned(version_1.migrations[..1].to_vec());
    version_1.run(&mut conn).await?;
    conn.execute(FILL_VERSION_1).await?;

    let memory = PostgresMemory::connect(&url).await?;
    let session = memory.session(&SessionId::new("old")).await?;
    assert_eq!(session.message_count, 40_000);
    // Every old message got its block of ids: 0 up to 16,383, 1 up to 32,767, 2 after.
    let blocks: Vec<(String, i64)> =
        sqlx::query_as("SELECT id_block::text, count(*) FROM messages GROUP BY 1 ORDER BY min(id)")
            .fetch_all(&mut conn)
            .await?;
    assert_eq!(
        blocks,
        [
            ("'0'".to_owned(), 16_383),
            ("'1'".to_owned(), 16_384),
            ("'2'".to_owned(), 7_233)
        ]
    );
    let hits = memory
        .search(&SearchQuery::new("quokka").limit(500))
        .await?;
    assert_eq!(hits.len(), 400);
    assert!(hits.iter().all(|hit| hit.position % 100 == 0));
    conn.close().await?;
    memory.close().await;
    Ok(())
}
