//! `argus` on a real PostgreSQL server (`argus_memory::testkit`): `--db postgres://…`,
//! `ARGUS_DATABASE_URL`, `sessions copy`, open errors without the password, busy sessions.
//! Tests that need the server skip when PostgreSQL is not installed (and fail in CI).

#![allow(missing_docs, clippy::unwrap_used)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use argus_core::{ChatResponse, RunLog as _, SessionId};
use argus_memory::testkit::TestPostgres;
use argus_memory::PostgresMemory;

/// Runs `argus ARGS` with `env` set (and `ARGUS_DATABASE_URL` unset unless `env` sets it);
/// logs only errors unless `env` sets `RUST_LOG`.
fn argus_env(args: &[impl AsRef<OsStr>], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_argus"));
    command
        .args(args)
        .env_remove("ARGUS_DATABASE_URL")
        .env_remove("RUST_BACKTRACE")
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn argus(args: &[impl AsRef<OsStr>]) -> Output {
    argus_env(args, &[])
}

/// Stdout of a command that must succeed.
fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Stderr of a command that must fail with `code`, after checking it is one line.
fn fails(output: Output, code: i32) -> String {
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(code), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
}

/// The shared server and a fresh database on it; `None` (skipped) without PostgreSQL.
fn database() -> Option<(&'static TestPostgres, String)> {
    let pg = TestPostgres::shared()?;
    let url = runtime().block_on(pg.fresh_database());
    Some((pg, url))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A replay file answering `answer` (twice, for a run that asks again).
fn replay(dir: &Path, answer: &str) -> String {
    let path = dir.join(format!("{answer}.jsonl"));
    let line = serde_json::to_string(&ChatResponse::text(answer)).unwrap();
    std::fs::write(&path, format!("{line}\n{line}\n")).unwrap();
    path.to_str().unwrap().to_string()
}

/// Asks `question` in `session` of `db` on a replayed model answering `answer`.
fn run_in(db: &str, session: &str, dir: &Path, question: &str, answer: &str) -> String {
    ok(argus(&[
        "run",
        "--replay",
        &replay(dir, answer),
        "--no-tools",
        "--db",
        db,
        "--session",
        session,
        question,
    ]))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn an_empty_database_lists_no_sessions() {
    let Some((_, url)) = database() else { return };
    assert_eq!(ok(argus(&["sessions", "--db", &url, "list"])), "");
    assert_eq!(ok(argus(&["sessions", "list", "--json", "--db", &url])), "");
}

#[test]
fn a_run_keeps_its_session_in_postgres() {
    let Some((_, url)) = database() else { return };
    let work = tempfile::tempdir().unwrap();
    let answer = run_in(&url, "notes", work.path(), "What is 2 + 2?", "4");
    assert_eq!(answer, "4\n");
    let shown = ok(argus(&["sessions", "--db", &url, "show", "notes"]));
    assert_eq!(shown, "user: What is 2 + 2?\nassistant: 4\n");
    let listed = ok(argus(&["sessions", "--db", &url, "list"]));
    assert!(listed.starts_with("notes\t2 messages\t"), "{listed}");
    let hits = ok(argus(&["sessions", "--db", &url, "search", "2"]));
    assert!(hits.starts_with("notes#0\tuser\t"), "{hits}");
}

#[test]
fn the_database_url_comes_from_the_environment_unless_db_is_given() {
    let Some((_, url)) = database() else { return };
    let work = tempfile::tempdir().unwrap();
    let env = [("ARGUS_DATABASE_URL", url.as_str())];
    let output = argus_env(
        &[
            "run",
            "--replay",
            &replay(work.path(), "4"),
            "--no-tools",
            "--session",
            "from-env",
            "hi",
        ],
        &env,
    );
    assert_eq!(ok(output), "4\n");
    let listed = ok(argus_env(&["sessions", "list"], &env));
    assert!(listed.starts_with("from-env\t2 messages"), "{listed}");
    // --db wins over the environment.
    let file = work.path().join("memory.db");
    let listed = ok(argus_env(
        &["sessions", "--db", file.to_str().unwrap(), "list"],
        &env,
    ));
    assert_eq!(listed, "");
}

#[test]
fn sessions_copy_round_trips_sqlite_postgres_sqlite() {
    let Some((_, url)) = database() else { return };
    let work = tempfile::tempdir().unwrap();
    let first = work.path().join("first.db");
    let first = first.to_str().unwrap();
    run_in(first, "a", work.path(), "What is 2 + 2?", "4");
    run_in(first, "a", work.path(), "And 3 + 3?", "6");
    run_in(first, "b", work.path(), "hello", "hi");
    let export = |db: &str, session: &str| ok(argus(&["sessions", "--db", db, "export", session]));
    let steps: usize = ["a", "b"]
        .iter()
        .map(|session| {
            let export: serde_json::Value = serde_json::from_str(&export(first, session)).unwrap();
            export["steps"].as_array().unwrap().len()
        })
        .sum();
    let summary = format!("copied 2 sessions ({steps} steps), skipped 0\n");
    let copied = ok(argus(&["sessions", "copy", "--from", first, "--to", &url]));
    assert_eq!(copied, summary);

    // --from defaults to --db; copied sessions are reported and skipped.
    let last = work.path().join("last.db");
    let last = format!("sqlite://{}", last.display());
    let copied = ok(argus(&["sessions", "--db", &url, "copy", "--to", &last]));
    assert_eq!(copied, summary);
    let again = argus(&["sessions", "--db", &url, "copy", "--to", &last, "a"]);
    let stderr = String::from_utf8_lossy(&again.stderr).to_string();
    assert_eq!(ok(again), "copied 0 sessions (0 steps), skipped 1\n");
    assert!(stderr.contains("skipped session `a`"), "{stderr}");

    for session in ["a", "b"] {
        let original = export(first, session);
        assert_eq!(export(&url, session), original, "{session} in PostgreSQL");
        assert_eq!(export(&last, session), original, "{session} back in SQLite");
    }
    let listed = |db: &str| ok(argus(&["sessions", "--db", db, "list", "--json"]));
    assert_eq!(listed(&last), listed(first));

    // A session the source does not have is named; nothing is copied.
    let missing = argus(&["sessions", "copy", "--from", first, "--to", &url, "zzz"]);
    assert!(fails(missing, 3).contains("`zzz`"));
}

#[test]
fn a_wrong_password_is_one_line_without_it() {
    let Some((pg, url)) = database() else { return };
    let database = url.rsplit('/').next().unwrap();
    let wrong = pg.url_with_password(database, "hunter2-wrong");
    for args in [
        vec!["sessions", "--db", &wrong, "list"],
        vec![
            "run",
            "--replay",
            "/nonexistent",
            "--db",
            &wrong,
            "--session",
            "s",
            "hi",
        ],
        vec!["sessions", "copy", "--from", &url, "--to", &wrong],
    ] {
        let stderr = fails(argus(&args), 4);
        assert!(stderr.contains("refused the login"), "{stderr}");
        assert!(
            stderr.contains(&format!("127.0.0.1:{}", pg.port())),
            "{stderr}"
        );
        assert!(!stderr.contains("hunter2-wrong"), "{stderr}");
        assert!(!stderr.contains(pg.password()), "{stderr}");
    }
    // Nor in the most verbose logs, of a failed or a working connection.
    let trace = [("RUST_LOG", "trace")];
    for db in [&wrong, &url] {
        let output = argus_env(&["sessions", "--db", db, "list"], &trace);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!all.contains("hunter2-wrong"), "{all}");
        assert!(!all.contains(pg.password()), "{all}");
    }
}

#[test]
fn an_unreachable_server_is_one_line_without_the_password() {
    let url = format!("postgres://argus:s3cret-pw@127.0.0.1:{}/argus", free_port());
    let output = argus(&[
        "sessions",
        "--db",
        &url,
        "--db-connect-timeout",
        "2",
        "list",
    ]);
    let stderr = fails(output, 4);
    assert!(stderr.contains("cannot reach"), "{stderr}");
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
    // The same from the environment, whose value --help does not show either.
    let env = [("ARGUS_DATABASE_URL", url.as_str())];
    let stderr = fails(argus_env(&["sessions", "list"], &env), 4);
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
    let help = ok(argus_env(&["sessions", "--help"], &env));
    assert!(help.contains("ARGUS_DATABASE_URL"), "{help}");
    assert!(!help.contains("s3cret-pw"), "{help}");
}

#[test]
fn other_database_servers_are_refused_as_usage_errors() {
    let stderr = fails(
        argus(&["sessions", "copy", "--to", "mysql://root:s3cret@h/argus"]),
        2,
    );
    assert!(
        stderr.contains("`mysql` databases are not supported"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

#[test]
fn a_busy_session_ends_the_run_with_exit_code_75() {
    let Some((_, url)) = database() else { return };
    let work = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let memory = runtime.block_on(PostgresMemory::connect(&url)).unwrap();
    let lease = runtime
        .block_on(memory.lock_session(&SessionId::new("s"), Duration::ZERO))
        .unwrap();
    let answer = replay(work.path(), "4");
    let run = |wait: &str| {
        argus(&[
            "run",
            "--replay",
            &answer,
            "--no-tools",
            "--db",
            &url,
            "--session",
            "s",
            "--session-wait",
            wait,
            "hi",
        ])
    };
    let stderr = fails(run("0"), 75);
    assert!(
        stderr.starts_with("argus: session `s` is busy: another run holds it; try again"),
        "{stderr}"
    );
    let stderr = fails(run("0.2"), 75);
    assert_eq!(
        stderr,
        "argus: session `s` is busy: another run holds it (waited 200ms)\n"
    );
    runtime.block_on(lease.release());
    assert_eq!(ok(run("0")), "4\n");
    runtime.block_on(memory.close());
}
