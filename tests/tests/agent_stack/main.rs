//! The agent loop on the real stack without a model runtime: `argus-core`'s `Agent` and
//! `ScriptedModel`, `argus-memory`'s `SqliteMemory` on a file, and `argus-tools`' calculator,
//! clock and recall. Each test gets its own temporary database file.

#![allow(clippy::unwrap_used)]

mod export;
mod restart;
mod streaming;

use std::path::PathBuf;
use std::sync::Arc;

use argus_core::{Agent, ChatModel, Memory, SessionId};
use argus_memory::SqliteMemory;
use argus_tools::{Calculator, Clock, Recall};
use tempfile::TempDir;

const SYSTEM: &str = "You are a helpful assistant with a calculator, a clock and a memory.";

/// A database file in its own temporary directory (removed on drop).
struct TempDb {
    _dir: TempDir,
    path: PathBuf,
}

impl TempDb {
    fn new() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("memory.db");
        Ok(TempDb { _dir: dir, path })
    }

    async fn open(&self) -> anyhow::Result<SqliteMemory> {
        Ok(SqliteMemory::open(&self.path).await?)
    }
}

/// An agent on `memory` continuing `session`, with the calculator, the clock and recall.
fn agent(model: Arc<dyn ChatModel>, memory: &SqliteMemory, session: &SessionId) -> Agent {
    let shared: Arc<dyn Memory> = Arc::new(memory.clone());
    Agent::builder()
        .shared_model(model)
        .system_prompt(SYSTEM)
        .tool(Calculator)
        .tool(Clock::new())
        .tool(Recall::new(shared.clone()))
        .shared_memory(shared)
        .session(session.clone())
        .build()
        .unwrap()
}
