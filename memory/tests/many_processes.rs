//! Many processes sharing one PostgreSQL database, as agents on several machines do.
//!
//! Workers are this test binary run again with [`WORKER_ENV`] set, filtered to one of the
//! `*_worker` entries below (which return at once in a normal test run). The parent starts
//! them together, waits for all, and checks the database.
//!
//! - 10 processes × 20 sessions × 200 steps: no errors, every row present and in order.
//! - Two processes driving the *same* session with real agents: their runs take turns, never
//!   interleaving a step.

#![cfg(unix)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_core::{
    tool_fn, Agent, ContextStrategy, Message, NewSession, RunId, RunLog, ScriptedModel, SessionId,
    SessionStore, StepRecord, ToolCall, ToolResultInfo, Usage,
};
use argus_memory::testkit::TestPostgres;
use argus_memory::{PostgresMemory, PostgresOptions};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

/// The database URL a worker writes to.
const WORKER_ENV: &str = "ARGUS_MEMORY_WORKER_DB";
/// The worker's number.
const WORKER_INDEX_ENV: &str = "ARGUS_MEMORY_WORKER_INDEX";

const PROCESSES: usize = 10;
const SESSIONS_PER_PROCESS: usize = 20;
const STEPS_PER_SESSION: u32 = 200;

/// Runs `body` with the worker's database and number when this process is a worker.
fn as_worker(body: impl AsyncFnOnce(PostgresMemory, usize) -> anyhow::Result<()>) {
    let Ok(url) = std::env::var(WORKER_ENV) else {
        return;
    };
    let index: usize = std::env::var(WORKER_INDEX_ENV)
        .ok()
        .and_then(|i| i.parse().ok())
        .unwrap_or(0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(async {
        // 20 sessions held at once need 20 connections holding them; the server allows 300
        // connections for every test in this binary.
        let options = PostgresOptions::default()
            .max_connections(4)
            .max_held_sessions(SESSIONS_PER_PROCESS as u32);
        let memory = PostgresMemory::connect_with(&url, options).await?;
        body(memory, index).await
    });
    if let Err(error) = result {
        eprintln!("worker {index} failed: {error:#}");
        std::process::exit(2);
    }
    std::process::exit(0);
}

/// Runs `processes` workers at `entry` on `url` at once; fails with their output if any fails.
fn run_workers(url: &str, entry: &str, processes: usize) -> anyhow::Result<()> {
    let children: Vec<_> = (0..processes)
        .map(|index| {
            Command::new(std::env::current_exe()?)
                .args(["--exact", entry, "--nocapture", "--test-threads=1"])
                .env(WORKER_ENV, url)
                .env(WORKER_INDEX_ENV, index.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    let mut failures = Vec::new();
    for (index, child) in children.into_iter().enumerate() {
        let output = child.wait_with_output()?;
        if !output.status.success() {
            failures.push(format!(
                "worker {index}: {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    anyhow::ensure!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

/// Step `index` of a session's one run: a call and its result, or the final answer.
fn load_step(session: &str, index: u32) -> StepRecord {
    let messages = if index == 0 {
        vec![Message::user(format!("{session} question"))]
    } else if index + 1 == STEPS_PER_SESSION {
        vec![Message::assistant(format!("{session} answer"))]
    } else {
        let call = ToolCall {
            id: format!("call_{index}"),
            name: "lookup".into(),
            arguments: json!({ "session": session, "index": index }),
        };
        let result = Message::tool_result(
            ToolResultInfo {
                call_id: call.id.clone(),
                name: call.name.clone(),
                error: None,
                duration_us: 10,
            },
            format!("{session} result {index}"),
        );
        vec![
            Message::assistant_with_calls(format!("{session} step {index}"), vec![call]),
            result,
        ]
    };
    StepRecord {
        run_id: RunId::new("run"),
        index,
        messages,
        usage: Usage::new(u64::from(index), 1),
        is_final: index + 1 == STEPS_PER_SESSION,
    }
}

fn load_session(process: usize, session: usize) -> String {
    format!("p{process:02}-s{session:02}")
}

#[test]
fn load_worker() {
    as_worker(async |memory, process| {
        let mut writers = Vec::new();
        for s in 0..SESSIONS_PER_PROCESS {
            let memory = memory.clone();
            let name = load_session(process, s);
            writers.push(tokio::spawn(async move {
                let id = SessionId::new(name.clone());
                memory
                    .create_session(NewSession::named(id.clone(), "load"))
                    .await?;
                let lease = memory.lock_session(&id, Duration::ZERO).await?;
                for index in 0..STEPS_PER_SESSION {
                    memory.append_step(&id, &load_step(&name, index)).await?;
                }
                lease.release().await;
                anyhow::Ok(())
            }));
        }
        for writer in writers {
            writer.await??;
        }
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_processes_write_two_hundred_sessions_without_an_error_or_a_lost_row(
) -> anyhow::Result<()> {
    let Some(server) = TestPostgres::shared() else {
        return Ok(());
    };
    let url = server.fresh_database().await;
    // Migrated once here, so the workers' timings are of writing alone.
    let memory = PostgresMemory::connect(&url).await?;
    let started = Instant::now();
    let worker_url = url.clone();
    tokio::task::spawn_blocking(move || run_workers(&worker_url, "load_worker", PROCESSES))
        .await??;
    let steps = PROCESSES * SESSIONS_PER_PROCESS * STEPS_PER_SESSION as usize;
    println!(
        "{PROCESSES} processes wrote {steps} steps in {:.1?}",
        started.elapsed()
    );

    let sessions = memory.list_sessions().await?;
    assert_eq!(sessions.len(), PROCESSES * SESSIONS_PER_PROCESS);
    for process in 0..PROCESSES {
        for s in 0..SESSIONS_PER_PROCESS {
            let name = load_session(process, s);
            let id = SessionId::new(name.clone());
            let logged = memory.run_steps(&id, &RunId::new("run")).await?;
            let expected: Vec<StepRecord> = (0..STEPS_PER_SESSION)
                .map(|i| load_step(&name, i))
                .collect();
            let got: Vec<StepRecord> = logged.into_iter().map(|l| l.step).collect();
            assert!(
                got == expected,
                "session {name} differs from what was written"
            );
            let context = memory.load_context(&id, &ContextStrategy::Full).await?;
            let written: Vec<Message> = expected.into_iter().flat_map(|s| s.messages).collect();
            assert!(context == written, "session {name}: context out of order");
        }
    }
    let messages_per_session = 2 * (STEPS_PER_SESSION as usize - 2) + 2;
    let pool = sqlx::PgPool::connect(&url).await?;
    let (messages, tool_calls): (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM tool_calls)")
            .fetch_one(&pool)
            .await?;
    assert_eq!(
        messages as usize,
        PROCESSES * SESSIONS_PER_PROCESS * messages_per_session
    );
    assert_eq!(
        tool_calls as usize,
        PROCESSES * SESSIONS_PER_PROCESS * (STEPS_PER_SESSION as usize - 2)
    );
    pool.close().await;
    memory.close().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Two processes, one session.

const SHARED_SESSION: &str = "shared";
const RUNS_PER_PROCESS: usize = 15;

#[derive(Deserialize, JsonSchema)]
struct Lookup {
    /// What to look up.
    n: u32,
}

/// An agent whose runs take a few steps, each with a slow tool, so unguarded runs of two
/// processes would overlap.
fn shared_agent(memory: PostgresMemory, process: usize, run: usize) -> anyhow::Result<Agent> {
    let lookup = tool_fn("lookup", "Looks a number up.", |args: Lookup| async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Ok::<_, String>(format!("entry {}", args.n))
    });
    let call = |n: u32| ToolCall::new("lookup", json!({ "n": n }));
    let model = ScriptedModel::new()
        .then_calls(vec![call(1)])
        .then_calls(vec![call(2)])
        .then_text(format!("process {process} run {run} done"));
    Ok(Agent::builder()
        .model(model)
        .tool(lookup)
        .memory(memory)
        .session(SHARED_SESSION)
        .context(ContextStrategy::LastMessages(8))
        .session_wait(Duration::from_secs(60))
        .build()?)
}

#[test]
fn shared_session_worker() {
    as_worker(async |memory, process| {
        for run in 0..RUNS_PER_PROCESS {
            shared_agent(memory.clone(), process, run)?
                .run(format!("process {process} run {run}"))
                .await?;
        }
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_session_never_interleave_a_step() -> anyhow::Result<()> {
    let Some(server) = TestPostgres::shared() else {
        return Ok(());
    };
    let url = server.fresh_database().await;
    let memory = Arc::new(PostgresMemory::connect(&url).await?);
    memory
        .create_session(NewSession::named(SHARED_SESSION, "shared"))
        .await?;
    let worker_url = url.clone();
    tokio::task::spawn_blocking(move || run_workers(&worker_url, "shared_session_worker", 2))
        .await??;

    let export = memory.export_session(&SHARED_SESSION.into()).await?;
    // In commit order, each run's steps form one unbroken block, complete and final.
    let mut blocks: Vec<(RunId, Vec<u32>, bool)> = Vec::new();
    for logged in &export.steps {
        let step = &logged.step;
        match blocks.last_mut() {
            Some((run, indexes, finished)) if *run == step.run_id => {
                indexes.push(step.index);
                *finished = step.is_final;
            }
            _ => blocks.push((step.run_id.clone(), vec![step.index], step.is_final)),
        }
    }
    assert_eq!(blocks.len(), 2 * RUNS_PER_PROCESS, "runs interleaved");
    for (run, indexes, finished) in &blocks {
        assert_eq!(indexes, &[0, 1, 2, 3], "run {run}");
        assert!(finished, "run {run} did not finish");
    }
    // Both processes took part.
    let answers: Vec<String> = export
        .steps
        .iter()
        .filter(|l| l.step.is_final)
        .map(|l| l.step.messages[0].text())
        .collect();
    for process in 0..2 {
        let prefix = format!("process {process} ");
        assert_eq!(
            answers.iter().filter(|a| a.starts_with(&prefix)).count(),
            RUNS_PER_PROCESS
        );
    }
    Ok(())
}
