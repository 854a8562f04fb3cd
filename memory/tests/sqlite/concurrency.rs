//! Many writers at once: nothing fails, nothing is lost, everything stays in order.

use argus_core::{ContextStrategy, Message, NewSession, RunId, RunLog, SessionId, SessionStore};
use argus_memory::SqliteMemory;

use crate::common::{assert_consistent, step, TempDb};

async fn write_sessions(
    memories: &[SqliteMemory],
    sessions: usize,
    steps: u32,
) -> anyhow::Result<Vec<SessionId>> {
    let mut ids = Vec::new();
    for s in 0..sessions {
        let memory = &memories[s % memories.len()];
        ids.push(
            memory
                .create_session(NewSession::named(format!("s{s:02}"), "concurrent"))
                .await?
                .id,
        );
    }
    let mut tasks = Vec::new();
    for (s, id) in ids.iter().enumerate() {
        let memory = memories[s % memories.len()].clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            for index in 0..steps {
                let messages = vec![
                    Message::user(format!("session {s} step {index}")),
                    Message::assistant(format!("answer {s}/{index}")),
                ];
                let record = step("run", index, messages, index + 1 == steps);
                memory.append_step(&id, &record).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(ids)
}

async fn assert_all_present(
    memory: &SqliteMemory,
    ids: &[SessionId],
    steps: u32,
) -> anyhow::Result<()> {
    let mut total = 0;
    for (s, id) in ids.iter().enumerate() {
        let logged = memory.run_steps(id, &RunId::new("run")).await?;
        let indexes: Vec<u32> = logged.iter().map(|l| l.step.index).collect();
        assert_eq!(indexes, (0..steps).collect::<Vec<_>>(), "session {s}");
        total += logged.len();
        let context = memory.load_context(id, &ContextStrategy::Full).await?;
        let expected: Vec<String> = (0..steps)
            .flat_map(|i| [format!("session {s} step {i}"), format!("answer {s}/{i}")])
            .collect();
        let texts: Vec<String> = context.iter().map(Message::text).collect();
        assert_eq!(texts, expected, "session {s}");
        let run = memory.last_run(id).await?.unwrap();
        assert_eq!((run.steps, run.finished), (steps, true));
    }
    assert_eq!(total, ids.len() * steps as usize);
    Ok(())
}

/// 50 sessions × 200 steps from 50 tokio tasks on one file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_sessions_written_concurrently_lose_nothing() -> anyhow::Result<()> {
    let db = TempDb::new()?;
    let memory = db.open().await?;
    let ids = write_sessions(std::slice::from_ref(&memory), 50, 200).await?;
    assert_all_present(&memory, &ids, 200).await?;
    assert_eq!(memory.list_sessions().await?.len(), 50);
    memory.close().await;
    assert_consistent(&db.path).await
}

/// Two independent handles on one file (as two processes would be) contend for SQLite's
/// write lock: `BEGIN IMMEDIATE` and the busy timeout make them take turns.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn separate_handles_take_turns_for_the_write_lock() -> anyhow::Result<()> {
    let db = TempDb::new()?;
    let memories = [db.open().await?, db.open().await?, db.open().await?];
    let ids = write_sessions(&memories, 6, 30).await?;
    assert_all_present(&memories[0], &ids, 30).await?;
    for memory in memories {
        memory.close().await;
    }
    assert_consistent(&db.path).await
}

/// Commits do not checkpoint (the writer's automatic checkpoint is off): the background task
/// copies the log into the database file shortly after, and closing removes the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_checkpointed_in_the_background() -> anyhow::Result<()> {
    let db = TempDb::new()?;
    let memory = db.open().await?;
    let file_len = || std::fs::metadata(&db.path).map(|m| m.len());
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
    let wal = db.dir.path().join("memory.db-wal");
    assert!(wal.exists());
    memory.close().await;
    assert!(!wal.exists(), "closing leaves the log behind");
    assert_consistent(&db.path).await
}
