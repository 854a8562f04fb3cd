//! Crash safety: a child process appends steps and is killed with SIGKILL at random moments.
//!
//! The child is this test binary run again with [`CHILD_ENV`] set, filtered to
//! [`child_process_entry`]. It appends deterministic steps ([`crash_step`]) forever, printing
//! `committed <run> <index>` after each commit returns. After every kill the parent checks the
//! file is intact, every reported step is there, every logged step is exactly what the child
//! wrote (no partial step), and the interrupted run takes its next step.

#![cfg(unix)]

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argus_core::{
    ImageRef, Memory, MemoryError, Message, NewSession, RunId, SessionId, StepRecord, ToolCall,
    Usage,
};
use argus_memory::SqliteMemory;
use serde_json::json;

use crate::common::{assert_consistent, tool_result, TempDb};

const CHILD_ENV: &str = "ARGUS_MEMORY_CRASH_CHILD_DB";
const KILLS: usize = 60;
const STEPS_PER_RUN: u32 = 7;
const SESSION: &str = "crash";

/// Step `index` of run `run`: always the same for the same arguments, so the parent can
/// check every logged step is whole. Texts are long enough that a step spans several pages.
fn crash_step(run: &str, index: u32) -> StepRecord {
    let filler = format!("{run}/{index} ").repeat(200);
    let messages = match index {
        0 => {
            let bytes: Vec<u8> = format!("{run} picture")
                .bytes()
                .cycle()
                .take(9_000)
                .collect();
            vec![Message::user_with_images(
                format!("question {filler}"),
                vec![ImageRef::from_bytes(bytes, "image/png")],
            )]
        }
        i if i % 2 == 1 => {
            let call = ToolCall {
                id: format!("call_{run}_{i}"),
                name: "lookup".into(),
                arguments: json!({"run": run, "index": i}),
            };
            vec![
                Message::assistant_with_calls(format!("calling {filler}"), vec![call.clone()]),
                tool_result(&call, &format!("result {filler}"), None),
            ]
        }
        _ => vec![Message::assistant(format!("thinking {filler}"))],
    };
    StepRecord {
        run_id: RunId::new(run),
        index,
        messages,
        usage: Usage {
            prompt_tokens: u64::from(index) * 10,
            completion_tokens: 3,
            ..Usage::default()
        },
        is_final: index + 1 == STEPS_PER_RUN,
    }
}

fn run_name(n: u32) -> String {
    format!("run-{n:04}")
}

/// The step to append next: the interrupted run's next step, or a new run's first.
async fn next_step(memory: &SqliteMemory) -> Result<StepRecord, MemoryError> {
    let session = SessionId::new(SESSION);
    Ok(match memory.last_run(&session).await? {
        None => crash_step(&run_name(0), 0),
        Some(run) if !run.finished => crash_step(run.run_id.as_str(), run.steps),
        Some(run) => {
            let n: u32 = run.run_id.as_str()[4..].parse().unwrap_or(0);
            crash_step(&run_name(n + 1), 0)
        }
    })
}

/// The child's body: not a test of its own (it returns at once without the variable).
#[test]
fn child_process_entry() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result: anyhow::Result<()> = runtime.block_on(async {
        let memory = SqliteMemory::open(Path::new(&path)).await?;
        match memory
            .create_session(NewSession::named(SESSION, "Crash"))
            .await
        {
            Ok(_) | Err(MemoryError::SessionExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
        loop {
            let step = next_step(&memory).await?;
            memory.append_step(&SESSION.into(), &step).await?;
            println!("committed {} {}", step.run_id, step.index);
        }
    });
    eprintln!("crash child failed: {result:?}");
    std::process::exit(2);
}

/// A small xorshift generator: random kill moments without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn committed_steps_survive_sigkill_and_runs_resume() -> anyhow::Result<()> {
    let db = TempDb::new()?;
    let seed = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64 | 1;
    println!("seed {seed}");
    let mut rng = Rng(seed);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut reported: BTreeSet<(String, u32)> = BTreeSet::new();
    let mut mid_run_kills = 0;

    for round in 0..KILLS {
        let mut child = Command::new(std::env::current_exe()?)
            .args([
                "--exact",
                "crash::child_process_entry",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &db.path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        // Early kills land in start-up and migration, later ones in the middle of commits.
        let delay = if round % 5 == 0 {
            rng.next() % 15
        } else {
            15 + rng.next() % 150
        };
        std::thread::sleep(Duration::from_millis(delay));
        child.kill()?;
        let status = child.wait()?;
        let mut stdout = String::new();
        let mut stderr = String::new();
        if let Some(mut out) = child.stdout.take() {
            out.read_to_string(&mut stdout)?;
        }
        if let Some(mut err) = child.stderr.take() {
            err.read_to_string(&mut stderr)?;
        }
        anyhow::ensure!(
            status.signal() == Some(9),
            "round {round} (seed {seed}): the child was not killed but exited with {status}: {stderr}"
        );
        for line in stdout.lines() {
            if let Some(rest) = line.strip_prefix("committed ") {
                let (run, index) = rest
                    .split_once(' ')
                    .ok_or_else(|| anyhow::anyhow!("bad line {line:?}"))?;
                reported.insert((run.to_string(), index.parse()?));
            }
        }

        runtime.block_on(async {
            if db.path.exists() {
                assert_consistent(&db.path).await?;
            }
            let memory = db.open().await?;
            let session = SessionId::new(SESSION);
            let export = match memory.export_session(&session).await {
                Ok(export) => export,
                Err(MemoryError::SessionNotFound(_)) if reported.is_empty() => {
                    memory.close().await;
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            };
            // Every logged step is whole and exactly what was written.
            let mut logged = BTreeSet::new();
            let mut messages = 0;
            for entry in &export.steps {
                let step = &entry.step;
                anyhow::ensure!(
                    *step == crash_step(step.run_id.as_str(), step.index),
                    "round {round} (seed {seed}): step {} {} differs from what was written",
                    step.run_id,
                    step.index
                );
                messages += step.messages.len() as u64;
                logged.insert((step.run_id.to_string(), step.index));
            }
            anyhow::ensure!(export.session.message_count == messages);
            // Every step reported committed is there.
            let missing: Vec<_> = reported.difference(&logged).collect();
            anyhow::ensure!(
                missing.is_empty(),
                "round {round} (seed {seed}): committed steps lost: {missing:?}"
            );
            // The interrupted run resumes from its last committed step.
            if let Some(run) = memory.last_run(&session).await? {
                if !run.finished {
                    mid_run_kills += 1;
                    let step = crash_step(run.run_id.as_str(), run.steps);
                    memory.append_step(&session, &step).await?;
                    reported.insert((step.run_id.to_string(), step.index));
                }
            }
            memory.close().await;
            anyhow::Ok(())
        })?;
    }
    println!(
        "{KILLS} kills, {} steps committed, {mid_run_kills} runs resumed",
        reported.len()
    );
    anyhow::ensure!(reported.len() > KILLS, "the child made too little progress");
    Ok(())
}
