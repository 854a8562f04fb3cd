//! The write-ahead log is copied into the database file in the background.

use crate::conformance::write_sessions;
use crate::fixture::{Store, TempDb, TestDb};

/// Commits do not checkpoint (the writer's automatic checkpoint is off): the background task
/// copies the log into the database file shortly after, and closing removes the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_checkpointed_in_the_background() -> anyhow::Result<()> {
    let file = TempDb::new()?;
    let memory = Store::Sqlite(file.open().await?);
    let file_len = || std::fs::metadata(&file.path).map(|m| m.len());
    // Settle the migrations' own pages, then measure.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let before = file_len()?;
    write_sessions(std::slice::from_ref(&memory), 4, 100).await?;
    let mut after = file_len()?;
    // Up to a minute: the checkpoint waits for a quiet second, and a loaded disk is slow.
    for _ in 0..600 {
        if after > before + 64 * 1024 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        after = file_len()?;
    }
    assert!(
        after > before + 64 * 1024,
        "the database file stayed at {after} bytes (from {before}): nothing was checkpointed"
    );
    let wal = file.dir.path().join("memory.db-wal");
    assert!(wal.exists());
    memory.close().await;
    assert!(!wal.exists(), "closing leaves the log behind");
    TestDb::Sqlite(file).assert_consistent().await
}
