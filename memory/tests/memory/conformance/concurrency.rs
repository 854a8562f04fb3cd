//! Many writers at once: nothing fails, nothing is lost, everything stays in order.

use argus_core::{ContextStrategy, Message, NewSession, RunId, SessionId};

use crate::common::step;
use crate::fixture::{Store, TestDb};

pub(crate) async fn write_sessions(
    memories: &[Store],
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

async fn assert_all_present(memory: &Store, ids: &[SessionId], steps: u32) -> anyhow::Result<()> {
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

/// 50 sessions × 200 steps from 50 tokio tasks on one handle.
pub(crate) async fn fifty_sessions_written_concurrently_lose_nothing(
    db: TestDb,
) -> anyhow::Result<()> {
    let memory = db.open().await?;
    let ids = write_sessions(std::slice::from_ref(&memory), 50, 200).await?;
    assert_all_present(&memory, &ids, 200).await?;
    assert_eq!(memory.list_sessions().await?.len(), 50);
    memory.close().await;
    db.assert_consistent().await
}

/// Three independent handles on one database (as three processes would be) write at once
/// (SQLite: they contend for the write lock, and `BEGIN IMMEDIATE` and the busy timeout make
/// them take turns).
pub(crate) async fn separate_handles_writing_at_once_lose_nothing(
    db: TestDb,
) -> anyhow::Result<()> {
    let memories = [db.open().await?, db.open().await?, db.open().await?];
    let ids = write_sessions(&memories, 6, 30).await?;
    assert_all_present(&memories[0], &ids, 30).await?;
    for memory in memories {
        memory.close().await;
    }
    db.assert_consistent().await
}
