//! A database in memory: the same store without a file, its sessions held in-process.

use std::time::Duration;

use argus_core::{ContextStrategy, MemoryError, RunLog, SessionId};
use argus_memory::SqliteMemory;

use crate::conformance::write_rich_session;

#[tokio::test]
async fn in_memory_database_works_like_a_file() -> anyhow::Result<()> {
    let memory = SqliteMemory::in_memory().await?;
    let (session, written) = write_rich_session(&memory).await?;
    assert_eq!(
        memory
            .load_context(&session, &ContextStrategy::Full)
            .await?,
        written
    );
    assert!(memory.path().is_none());
    Ok(())
}

#[tokio::test]
async fn clones_of_an_in_memory_database_share_its_session_leases() -> anyhow::Result<()> {
    let memory = SqliteMemory::in_memory().await?;
    let clone = memory.clone();
    let session = SessionId::new("s");
    let lease = memory.lock_session(&session, Duration::ZERO).await?;
    assert!(lease.is_exclusive());
    let busy = clone
        .lock_session(&session, Duration::from_millis(50))
        .await;
    assert!(
        matches!(busy, Err(MemoryError::SessionBusy { .. })),
        "{busy:?}"
    );
    // Another database in memory is another store: nothing of this one is held there.
    let other = SqliteMemory::in_memory().await?;
    other
        .lock_session(&session, Duration::ZERO)
        .await?
        .release()
        .await;
    lease.release().await;
    clone
        .lock_session(&session, Duration::ZERO)
        .await?
        .release()
        .await;
    Ok(())
}
