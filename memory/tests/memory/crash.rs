//! Crash safety: a child process writes to the database and is killed with SIGKILL at random
//! moments, against each backend (an SQLite file, a PostgreSQL database).
//!
//! The child is this test binary run again with [`CHILD_ENV`] set to the database (a path or
//! a `postgres://` URL), filtered to one of the `*_child` entries below, which return at once
//! in a normal test run. A child prints `ready` once the database is open and
//! `committed <run> <index>` after each `append_step` returns. After every kill the parent
//! checks the database is consistent, every reported step is there, no step is partial, and
//! the interrupted run resumes. Every round uses the same database.
//!
//! - [`agent_child`] runs a real [`Agent`] (scripted model, a tool, the store) run after run,
//!   resuming an unfinished run first; the parent also resumes some runs itself.
//! - [`append_child`] appends deterministic steps directly, so every logged step can be
//!   compared with what was written byte for byte.
//! - [`hold_child`] holds a session until it is killed: the session is free again after.

#![cfg(unix)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argus_core::{
    async_trait, tool_fn, Agent, AgentError, ContextStrategy, ImageRef, LoggedStep, MemoryError,
    Message, NewSession, Role, RunId, RunLog, RunSummary, ScriptedModel, SessionId, SessionInfo,
    SessionLease, StepRecord, ToolCall, Usage,
};
use argus_memory::SessionExport;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::common::tool_result;
use crate::fixture::{Backend, Store, TestDb};

const CHILD_ENV: &str = "ARGUS_MEMORY_CRASH_CHILD_DB";
/// Set to a number to replay the kill moments of an earlier run (each run prints its seed).
const SEED_ENV: &str = "ARGUS_MEMORY_CRASH_SEED";
const SESSION: &str = "crash";
/// How long a run waits for the session: a killed PostgreSQL client's session is released when
/// the server notices the closed connection, not at once.
const SESSION_WAIT: Duration = Duration::from_secs(10);

type Reported = BTreeSet<(String, u32)>;

/// A small xorshift generator: random kill moments without a dependency.
struct Rng(u64);

impl Rng {
    /// Seeded from [`SEED_ENV`] when it is set, from the clock otherwise.
    fn seeded() -> Self {
        let seed = std::env::var(SEED_ENV)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        println!("seed {seed} (replay with {SEED_ENV}={seed})");
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Every fifth kill lands in start-up (process start, open, migration), the others
    /// anywhere in the first 150 ms after the database is open.
    fn kill_moment(&mut self, round: usize) -> KillMoment {
        if round.is_multiple_of(5) {
            KillMoment::StartUp(Duration::from_millis(self.next() % 15))
        } else {
            KillMoment::AfterOpen(Duration::from_millis(self.next() % 150))
        }
    }
}

/// When the parent kills a child.
#[derive(Debug, Clone, Copy)]
enum KillMoment {
    /// This long after the process was spawned.
    StartUp(Duration),
    /// This long after the child reported its database open, so a slow start (a loaded
    /// machine) does not eat the time meant for writing.
    AfterOpen(Duration),
}

/// How long a child may take to open the database before the round fails.
const OPEN_TIMEOUT: Duration = Duration::from_secs(120);

/// A child process (this binary, filtered to one `*_child` entry) and its stdout lines.
struct Child {
    process: std::process::Child,
    /// Every line the child prints, as it prints them.
    lines: mpsc::Receiver<String>,
    /// The lines seen so far, kept by [`wait_for`](Self::wait_for).
    seen: Vec<String>,
}

impl Child {
    /// Starts the child `entry` on the database at `location`.
    fn spawn(location: &str, entry: &str) -> anyhow::Result<Child> {
        let mut process = Command::new(std::env::current_exe()?)
            .args(["--exact", entry, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, location)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdout = process
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Child {
            process,
            lines,
            seen: Vec::new(),
        })
    }

    /// Waits until the child prints a line ending in `word` (the harness's `test <name> ... `
    /// may precede the first line). Fails when it exits first or takes longer than `timeout`.
    fn wait_for(&mut self, word: &str, timeout: Duration) -> anyhow::Result<()> {
        loop {
            match self.lines.recv_timeout(timeout) {
                Ok(line) => {
                    let found = line.ends_with(word);
                    self.seen.push(line);
                    if found {
                        return Ok(());
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.process.kill();
                    anyhow::bail!("the child did not print `{word}` within {timeout:?}");
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.process.wait()?;
                    anyhow::bail!(
                        "the child exited with {status} before printing `{word}`: {}",
                        self.stderr()
                    );
                }
            }
        }
    }

    /// SIGKILLs the child and returns every line it printed.
    fn kill(mut self) -> anyhow::Result<Vec<String>> {
        self.process.kill()?;
        let status = self.process.wait()?;
        anyhow::ensure!(
            status.signal() == Some(9),
            "the child was not killed but exited with {status}: {}",
            self.stderr()
        );
        // The reader ends with the child's stdout.
        self.seen.extend(self.lines.iter());
        Ok(self.seen)
    }

    fn stderr(&mut self) -> String {
        let mut stderr = String::new();
        if let Some(mut err) = self.process.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        stderr
    }
}

/// Runs the child `entry` on the database at `location`, kills it at `moment`, and returns the
/// steps it reported committed.
fn spawn_and_kill(location: &str, entry: &str, moment: KillMoment) -> anyhow::Result<Reported> {
    let mut child = Child::spawn(location, entry)?;
    match moment {
        KillMoment::StartUp(delay) => std::thread::sleep(delay),
        KillMoment::AfterOpen(delay) => {
            child.wait_for("ready", OPEN_TIMEOUT)?;
            std::thread::sleep(delay);
        }
    }
    let lines = child.kill()?;
    let mut reported = Reported::new();
    for line in &lines {
        if let Some((_, rest)) = line.split_once("committed ") {
            let (run, index) = rest
                .split_once(' ')
                .ok_or_else(|| anyhow::anyhow!("bad line {line:?}"))?;
            reported.insert((run.to_string(), index.parse()?));
        }
    }
    Ok(reported)
}

/// A fresh database of `backend` and a runtime for the parent's checks; `None` when
/// PostgreSQL is not installed here.
fn parent(backend: Backend) -> anyhow::Result<Option<(TestDb, tokio::runtime::Runtime)>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime
        .block_on(TestDb::new(backend))?
        .map(|db| (db, runtime)))
}

/// Runs a child's body on a fresh runtime when this process is a child.
fn as_child(body: impl AsyncFnOnce(Store) -> anyhow::Result<()>) {
    let Ok(location) = std::env::var(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(async {
        let memory = Store::open_at(&location).await?;
        println!("ready");
        body(memory).await
    });
    eprintln!("crash child failed: {result:?}");
    std::process::exit(2);
}

/// The database is consistent, and the session (if the child got as far as creating it) has
/// every reported step. Returns the export for further checks.
async fn check_after_kill(
    db: &TestDb,
    memory: &Store,
    reported: &Reported,
) -> anyhow::Result<Option<SessionExport>> {
    if db.exists() {
        db.assert_consistent().await?;
    }
    let export = match memory.export_session(&SESSION.into()).await {
        Ok(export) => export,
        Err(MemoryError::SessionNotFound(_)) if reported.is_empty() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let logged: Reported = export
        .steps
        .iter()
        .map(|s| (s.step.run_id.to_string(), s.step.index))
        .collect();
    let missing: Vec<_> = reported.difference(&logged).collect();
    anyhow::ensure!(missing.is_empty(), "committed steps lost: {missing:?}");
    let messages: usize = export.steps.iter().map(|s| s.step.messages.len()).sum();
    anyhow::ensure!(export.session.message_count == messages as u64);
    Ok(Some(export))
}

// ---------------------------------------------------------------------------------------
// A real agent.

/// A run log that reports each step on stdout once its commit has returned.
struct Reporting(Store);

#[async_trait]
impl RunLog for Reporting {
    async fn create_session(&self, new: NewSession) -> Result<SessionInfo, MemoryError> {
        self.0.create_session(new).await
    }
    async fn append_step(&self, session: &SessionId, step: &StepRecord) -> Result<(), MemoryError> {
        self.0.append_step(session, step).await?;
        println!("committed {} {}", step.run_id, step.index);
        Ok(())
    }
    async fn load_context(
        &self,
        session: &SessionId,
        strategy: &ContextStrategy,
    ) -> Result<Vec<Message>, MemoryError> {
        self.0.load_context(session, strategy).await
    }
    async fn last_run(&self, session: &SessionId) -> Result<Option<RunSummary>, MemoryError> {
        self.0.last_run(session).await
    }
    async fn run_steps(
        &self,
        session: &SessionId,
        run_id: &RunId,
    ) -> Result<Vec<LoggedStep>, MemoryError> {
        self.0.run_steps(session, run_id).await
    }
    async fn lock_session(
        &self,
        session: &SessionId,
        wait: Duration,
    ) -> Result<SessionLease, MemoryError> {
        self.0.lock_session(session, wait).await
    }
}

#[derive(Deserialize, JsonSchema)]
struct Lookup {
    /// What to look up.
    n: u32,
}

/// An agent on the crash session: a scripted model that calls `lookup` twice, then once,
/// then answers; the tool's long results make each step span several database pages.
fn crash_agent(memory: impl RunLog + 'static, model: ScriptedModel) -> anyhow::Result<Agent> {
    let lookup = tool_fn("lookup", "Looks a number up.", |args: Lookup| async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        Ok::<_, String>(format!("entry {} ", args.n).repeat(300))
    });
    Ok(Agent::builder()
        .model(model)
        .system_prompt("You look things up.")
        .tool(lookup)
        .memory(memory)
        .session(SESSION)
        .session_wait(SESSION_WAIT)
        .context(ContextStrategy::LastMessages(40))
        .max_steps(1_000)
        .build()?)
}

fn script() -> ScriptedModel {
    let call = |n: u32| ToolCall::new("lookup", json!({ "n": n }));
    ScriptedModel::new()
        .then_calls(vec![call(1), call(2)])
        .then_calls(vec![call(3)])
        .then_text("The answer is 42.")
}

#[test]
fn agent_child() {
    as_child(async |memory| {
        for n in 0u64.. {
            let agent = crash_agent(Reporting(memory.clone()), script())?;
            match agent.resume().await {
                Ok(_) => {}
                Err(AgentError::NothingToResume) => {
                    agent.run(format!("question {n}")).await?;
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    });
}

/// Every run in the log is well formed: its input, then steps each holding an assistant
/// message and exactly the results of its calls, the last (and only the last) final.
fn assert_agent_log(export: &SessionExport) -> anyhow::Result<()> {
    let mut runs: Vec<(RunId, Vec<&StepRecord>)> = Vec::new();
    for logged in &export.steps {
        let step = &logged.step;
        match runs.iter_mut().find(|(id, _)| *id == step.run_id) {
            Some((_, steps)) => steps.push(step),
            None => runs.push((step.run_id.clone(), vec![step])),
        }
    }
    for (run, steps) in &runs {
        for (i, step) in steps.iter().enumerate() {
            anyhow::ensure!(
                step.index as usize == i,
                "run {run}: step {i} has index {}",
                step.index
            );
            anyhow::ensure!(
                !step.is_final || i + 1 == steps.len(),
                "run {run}: step {i} is final but not last"
            );
            if i == 0 {
                anyhow::ensure!(
                    step.messages.len() == 1 && step.messages[0].role == Role::User,
                    "run {run}: step 0 is not the input"
                );
                continue;
            }
            let (assistant, results) = step
                .messages
                .split_first()
                .ok_or_else(|| anyhow::anyhow!("run {run}: step {i} is empty"))?;
            anyhow::ensure!(assistant.role == Role::Assistant);
            anyhow::ensure!(step.is_final == assistant.tool_calls.is_empty());
            anyhow::ensure!(
                results.len() == assistant.tool_calls.len(),
                "run {run}: step {i} lost results"
            );
            for (call, result) in assistant.tool_calls.iter().zip(results) {
                let info = result
                    .tool_result
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("run {run}: step {i}: not a tool result"))?;
                anyhow::ensure!(info.call_id == call.id && info.error.is_none());
                anyhow::ensure!(result.text().len() > 1_000, "run {run}: result cut short");
            }
        }
    }
    Ok(())
}

#[test]
fn agent_steps_survive_sigkill_and_runs_resume_on_sqlite() -> anyhow::Result<()> {
    agent_trials(Backend::Sqlite)
}

#[test]
fn agent_steps_survive_sigkill_and_runs_resume_on_postgres() -> anyhow::Result<()> {
    agent_trials(Backend::Postgres)
}

/// Kills an agent child 60 times, checking the log after each kill and resuming
/// every other interrupted run.
fn agent_trials(backend: Backend) -> anyhow::Result<()> {
    const KILLS: usize = 60;
    let Some((db, runtime)) = parent(backend)? else {
        return Ok(());
    };
    let mut rng = Rng::seeded();
    let mut reported = Reported::new();
    let (mut parent_resumes, mut child_resumes) = (0, 0);
    let mut unfinished: Option<RunSummary> = None;

    for round in 0..KILLS {
        let moment = rng.kill_moment(round);
        let new = spawn_and_kill(&db.location(), "crash::agent_child", moment)
            .map_err(|e| e.context(format!("round {round}")))?;
        if let Some(run) = &unfinished {
            if new.contains(&(run.run_id.to_string(), run.steps)) {
                child_resumes += 1;
            }
        }
        reported.extend(new);

        runtime
            .block_on(async {
                let memory = db.open().await?;
                if let Some(export) = check_after_kill(&db, &memory, &reported).await? {
                    assert_agent_log(&export)?;
                }
                unfinished = memory
                    .last_run(&SESSION.into())
                    .await
                    .ok()
                    .flatten()
                    .filter(|run| !run.finished);
                // Every other interrupted run is resumed here, the others by the next child.
                if let (Some(run), 1) = (&unfinished, round % 2) {
                    let agent =
                        crash_agent(memory.shared(), ScriptedModel::new().then_text("resumed"))?;
                    let output = agent.resume().await?;
                    anyhow::ensure!(output.answer == "resumed");
                    let last = memory.last_run(&SESSION.into()).await?;
                    anyhow::ensure!(
                        last.as_ref()
                            .is_some_and(|l| l.run_id == run.run_id && l.finished),
                        "the resumed run did not finish: {last:?}"
                    );
                    parent_resumes += 1;
                    unfinished = None;
                }
                memory.close().await;
                anyhow::Ok(())
            })
            .map_err(|e| e.context(format!("{backend:?} round {round}")))?;
    }
    println!(
        "{backend:?}: {KILLS} kills, {} steps reported committed, runs resumed by the parent {parent_resumes}, by a child {child_resumes}",
        reported.len()
    );
    anyhow::ensure!(
        reported.len() > KILLS,
        "the children made too little progress"
    );
    anyhow::ensure!(parent_resumes > 0, "no kill interrupted a run");
    anyhow::ensure!(child_resumes > 0, "no child resumed a run");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Direct appends of deterministic steps.

const STEPS_PER_RUN: u32 = 7;

/// Step `index` of run `run`: always the same for the same arguments, so the parent can
/// check every logged step is exactly what was written.
fn append_step(run: &str, index: u32) -> StepRecord {
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
        usage: Usage::new(u64::from(index) * 10, 3),
        is_final: index + 1 == STEPS_PER_RUN,
    }
}

/// The step to append next: the interrupted run's next step, or a new run's first.
async fn next_append(memory: &Store) -> Result<StepRecord, MemoryError> {
    Ok(match memory.last_run(&SESSION.into()).await? {
        None => append_step("run-0000", 0),
        Some(run) if !run.finished => append_step(run.run_id.as_str(), run.steps),
        Some(run) => {
            let n: u32 = run.run_id.as_str()[4..].parse().unwrap_or(0);
            append_step(&format!("run-{:04}", n + 1), 0)
        }
    })
}

#[test]
fn append_child() {
    as_child(async |memory| {
        match memory
            .create_session(NewSession::named(SESSION, "Crash"))
            .await
        {
            Ok(_) | Err(MemoryError::SessionExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
        loop {
            let step = next_append(&memory).await?;
            memory.append_step(&SESSION.into(), &step).await?;
            println!("committed {} {}", step.run_id, step.index);
        }
    });
}

#[test]
fn appended_steps_survive_sigkill_exactly_on_sqlite() -> anyhow::Result<()> {
    append_trials(Backend::Sqlite)
}

#[test]
fn appended_steps_survive_sigkill_exactly_on_postgres() -> anyhow::Result<()> {
    append_trials(Backend::Postgres)
}

/// Kills an appending child 25 times, comparing every logged step with what was written.
fn append_trials(backend: Backend) -> anyhow::Result<()> {
    const KILLS: usize = 25;
    let Some((db, runtime)) = parent(backend)? else {
        return Ok(());
    };
    let mut rng = Rng::seeded();
    let mut reported = Reported::new();
    for round in 0..KILLS {
        let moment = rng.kill_moment(round);
        reported.extend(
            spawn_and_kill(&db.location(), "crash::append_child", moment)
                .map_err(|e| e.context(format!("round {round}")))?,
        );
        runtime
            .block_on(async {
                let memory = db.open().await?;
                if let Some(export) = check_after_kill(&db, &memory, &reported).await? {
                    for logged in &export.steps {
                        let step = &logged.step;
                        anyhow::ensure!(
                            *step == append_step(step.run_id.as_str(), step.index),
                            "step {} {} differs from what was written",
                            step.run_id,
                            step.index
                        );
                    }
                }
                // The interrupted run takes its next step.
                let last = match memory.last_run(&SESSION.into()).await {
                    Err(MemoryError::SessionNotFound(_)) => None,
                    other => other?,
                };
                if let Some(run) = last {
                    if !run.finished {
                        let step = append_step(run.run_id.as_str(), run.steps);
                        memory.append_step(&SESSION.into(), &step).await?;
                        reported.insert((step.run_id.to_string(), step.index));
                    }
                }
                memory.close().await;
                anyhow::Ok(())
            })
            .map_err(|e| e.context(format!("{backend:?} round {round}")))?;
    }
    anyhow::ensure!(reported.len() > KILLS, "the child made too little progress");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// A session held by a process that dies.

const HELD: &str = "held";

#[test]
fn hold_child() {
    as_child(async |memory| {
        let _lease = memory.lock_session(&HELD.into(), Duration::ZERO).await?;
        println!("holding");
        tokio::time::sleep(Duration::from_secs(3_600)).await;
        Ok(())
    });
}

#[test]
fn a_killed_process_releases_its_session_on_sqlite() -> anyhow::Result<()> {
    killed_holder_releases(Backend::Sqlite)
}

#[test]
fn a_killed_process_releases_its_session_on_postgres() -> anyhow::Result<()> {
    killed_holder_releases(Backend::Postgres)
}

/// A child holds [`HELD`]: the parent cannot have it; the child is killed: the parent gets it
/// within a few seconds.
fn killed_holder_releases(backend: Backend) -> anyhow::Result<()> {
    let Some((db, runtime)) = parent(backend)? else {
        return Ok(());
    };
    let session = SessionId::new(HELD);
    let memory = runtime.block_on(db.open())?;
    let mut child = Child::spawn(&db.location(), "crash::hold_child")?;
    child.wait_for("holding", OPEN_TIMEOUT)?;
    let busy = runtime.block_on(memory.lock_session(&session, Duration::from_millis(100)));
    anyhow::ensure!(
        matches!(busy, Err(MemoryError::SessionBusy { .. })),
        "the child's session was not held: {busy:?}"
    );
    child.kill()?;
    let started = std::time::Instant::now();
    let lease = runtime.block_on(memory.lock_session(&session, Duration::from_secs(5)))?;
    println!("{backend:?}: held {:?} after the kill", started.elapsed());
    anyhow::ensure!(lease.is_exclusive());
    runtime.block_on(async {
        lease.release().await;
        memory.close().await;
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------
// An SQLite transaction cut short by a kill: a hot rollback journal beside the file.

/// Writes a first transaction into a new file in rollback-journal mode (as the store's first
/// open does before it switches to WAL) with a tiny cache, so pages reach the file before the
/// commit, and waits to be killed.
#[test]
fn journal_child() {
    let Ok(location) = std::env::var(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result: anyhow::Result<()> = runtime.block_on(async {
        use sqlx::Executor;
        let mut conn = crate::fixture::raw_sqlite(std::path::Path::new(&location)).await?;
        conn.execute("PRAGMA journal_mode = DELETE").await?;
        // Page 1 committed, no tables: an empty database.
        conn.execute("PRAGMA user_version = 7").await?;
        conn.execute("PRAGMA cache_size = 1").await?;
        conn.execute("BEGIN").await?;
        conn.execute("CREATE TABLE filler (x TEXT)").await?;
        for _ in 0..200 {
            conn.execute("INSERT INTO filler VALUES (hex(randomblob(1000)))")
                .await?;
        }
        println!("writing");
        tokio::time::sleep(Duration::from_secs(3_600)).await;
        Ok(())
    });
    eprintln!("journal child failed: {result:?}");
    std::process::exit(2);
}

/// A process killed inside its first transaction leaves a hot journal; the next open rolls it
/// back (as any SQLite connection that may write does) and finds an empty database, rather
/// than calling the file read-only. (A store killed inside its first open, while switching the
/// new file to WAL, leaves the same.)
#[test]
fn a_database_left_with_a_hot_journal_by_a_killed_process_opens() -> anyhow::Result<()> {
    let Some((db, runtime)) = parent(Backend::Sqlite)? else {
        return Ok(());
    };
    let mut child = Child::spawn(&db.location(), "crash::journal_child")?;
    child.wait_for("writing", OPEN_TIMEOUT)?;
    child.kill()?;
    let journal = std::path::PathBuf::from(format!("{}-journal", db.location()));
    anyhow::ensure!(journal.exists(), "the child left no journal");
    runtime.block_on(async {
        let memory = db.open().await?;
        anyhow::ensure!(memory.list_sessions().await?.is_empty());
        memory.close().await;
        db.assert_consistent().await
    })
}
