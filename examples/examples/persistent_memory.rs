//! An assistant with persistent memory: a session in an SQLite file survives the process.
//!
//! The first agent is told a fact; then everything is dropped and the database closed, as if
//! the program had exited. The program reopens the file and searches it; a second agent
//! continues the same session (its model sees the earlier messages) and finds the fact again
//! with the `recall` tool. The model is scripted, so no weights are needed.
//!
//! ```text
//! cargo run -p argus-examples --example persistent_memory [-- path/to/memory.db]
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use argus_core::{Agent, ScriptedModel, SearchQuery, SessionId, SessionStore};
use argus_memory::SqliteMemory;
use argus_tools::Recall;
use serde_json::json;

const SYSTEM: &str = "You are a renovation assistant. Use `recall` to look up earlier notes.";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A database path from the command line, or a fresh file in a temporary directory.
    let scratch = tempfile::tempdir()?;
    let path = std::env::args()
        .nth(1)
        .map_or_else(|| scratch.path().join("memory.db"), PathBuf::from);
    let session = SessionId::new("kitchen-renovation");

    // First process: tell the assistant something worth remembering.
    {
        let memory = SqliteMemory::open(&path).await?;
        let agent = Agent::builder()
            .model(ScriptedModel::new().then_text("Noted: Marta does the tiles."))
            .system_prompt(SYSTEM)
            .memory(memory.clone()) // each step is committed to the file as it completes
            .session(session.clone())
            .build()?;
        let output = agent
            .run("Note for later: the tiler is called Marta, budget 12000 EUR.")
            .await?;
        println!("run 1: {}", output.answer);
        drop(agent);
        memory.close().await; // checkpoint and close, as on exit
    }

    // Second process: reopen the file and resume the same session.
    let memory = SqliteMemory::open(&path).await?;
    // The program can search the memory itself (full text, best hits first)...
    for hit in memory
        .search(&SearchQuery::new("budget").in_session(session.clone()))
        .await?
    {
        println!(
            "search 'budget': message {} ({}): {}",
            hit.position,
            hit.role.as_str(),
            hit.snippet
        );
    }

    // ...and so can the model, with the `recall` tool.
    let model = Arc::new(
        ScriptedModel::new()
            .then_call("recall", json!({"query": "tiler"}))
            .then_text("Your tiler is Marta."),
    );
    let agent = Agent::builder()
        .shared_model(model.clone()) // keep a handle to inspect what the model was sent
        .system_prompt(SYSTEM)
        .tool(Recall::new(Arc::new(memory.clone())))
        .memory(memory.clone())
        .session(session.clone())
        .build()?;
    let output = agent.run("Who did I say would do the tiles?").await?;
    let first_request = &model.requests()[0];
    println!(
        "run 2: the model was sent {} messages, starting with the earlier run's:",
        first_request.messages.len()
    );
    for message in &first_request.messages {
        println!("  {:>9}: {}", message.role.as_str(), message.text());
    }
    println!(
        "recall -> {}",
        output.trace.steps[0].tool_results()[0].text()
    );
    println!("run 2: {}", output.answer);

    let info = memory.session(&session).await?;
    println!(
        "session `{}` holds {} messages in {}",
        info.id,
        info.message_count,
        path.display()
    );
    memory.close().await;
    Ok(())
}
