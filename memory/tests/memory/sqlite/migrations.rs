//! Later migrations upgrade databases written by earlier builds, data included.

use std::path::Path;

use argus_core::{ContextStrategy, RunLog, SearchQuery, SessionStore};
use sqlx::migrate::Migrator;
use sqlx::Connection;

use crate::fixture::{raw_sqlite as raw, TempDb, TestDb};

#[tokio::test]
async fn a_first_version_database_is_upgraded_with_its_data() -> anyhow::Result<()> {
    // Build a database as the first release did: its migration only, its rows.
    let first_only = tempfile::tempdir()?;
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut files: Vec<_> = std::fs::read_dir(&migrations)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    anyhow::ensure!(files.len() >= 2, "there is a later migration to test");
    let first = &files[0];
    std::fs::copy(first, first_only.path().join(first.file_name().unwrap()))?;

    let db = TempDb::new()?;
    let mut conn = raw(&db.path).await?;
    Migrator::new(first_only.path())
        .await?
        .run(&mut conn)
        .await?;
    sqlx::query(
        "INSERT INTO sessions (seq, id, title, created_at_ms, updated_at_ms, message_count)
         VALUES (1, 'old', 'Old', 1, 2, 2);
         INSERT INTO runs (id, session_seq, run_id, started_at_ms, steps, finished)
         VALUES (1, 1, 'r', 1, 1, 1);
         INSERT INTO steps (run, idx, committed_at_ms, first_position, message_count,
             prompt_tokens, completion_tokens, cached_prompt_tokens, is_final)
         VALUES (1, 0, 1, 0, 2, 0, 0, 0, 1);
         INSERT INTO messages (id, session_seq, position, role, text)
         VALUES (1, 1, 0, 'user', 'where is the lighthouse'), (2, 1, 1, 'assistant', 'on the cape');
         INSERT INTO message_parts (message_id, ord, kind) VALUES (1, 0, 'text'), (2, 0, 'text');",
    )
    .execute(&mut conn)
    .await?;
    conn.close().await?;

    let memory = db.open().await?;
    let hits = memory.search(&SearchQuery::new("lighthouse")).await?;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].snippet, "where is the lighthouse");
    let scoped = SearchQuery::new("cape").in_session("old".into());
    assert_eq!(memory.search(&scoped).await?.len(), 1);
    let context = memory
        .load_context(&"old".into(), &ContextStrategy::Full)
        .await?;
    assert_eq!(context[1].text(), "on the cape");
    memory.close().await;
    TestDb::Sqlite(db).assert_consistent().await
}
