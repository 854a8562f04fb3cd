//! Latency of the SQLite and PostgreSQL memories on a large database: 10,000 sessions of 100
//! messages (1,000,000 messages) plus one session of 50,000 messages.
//!
//! `cargo bench -p argus-memory --bench memory` generates the SQLite database once (bulk
//! import, cached under `target/argus-memory-bench/`, keyed by schema version and size) and the
//! PostgreSQL one on a throwaway server with durable commits (`fsync`, `synchronous_commit`,
//! `full_page_writes` on; generated on every run, unless `ARGUS_BENCH_POSTGRES_URL` names a
//! database to fill once and reuse), then measures appending one step, loading a context and
//! searching, and prints a table of p50/p99 per store. `-- sqlite` or `-- postgres` runs one.
//! Run without `--bench` (as `cargo test --benches` does) it makes small databases and runs
//! each measurement a few times, as a smoke test.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use argus_core::{
    ContextStrategy, Memory, Message, NewSession, RunId, SearchQuery, SessionId, SessionInfo,
    SessionStore, StepRecord, TokenCounter, ToolCall, ToolResultInfo, Usage,
};
use argus_memory::testkit::TestPostgres;
use argus_memory::{Durability, LoggedStep, PostgresMemory, SessionExport, SqliteMemory};
use serde_json::json;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Sizes of one benchmark configuration.
#[derive(Debug, Clone, Copy)]
struct Size {
    sessions: usize,
    runs_per_session: usize,
    huge_session_runs: usize,
    iterations: usize,
}

/// 25 runs of 4 messages: 100 messages a session.
const FULL: Size = Size {
    sessions: 10_000,
    runs_per_session: 25,
    huge_session_runs: 12_500,
    iterations: 1_000,
};

const SMOKE: Size = Size {
    sessions: 20,
    runs_per_session: 25,
    huge_session_runs: 100,
    iterations: 10,
};

const VOCABULARY: u64 = 5_000;
const SYLLABLES: [&str; 20] = [
    "ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "zu", "ba", "do", "fi", "gu", "he", "jo",
    "ly", "mo", "ni", "pe",
];
const HUGE: &str = "huge";

/// A xorshift generator: the same data on every run, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn word(&mut self) -> String {
        word(self.below(VOCABULARY))
    }

    /// Skewed towards frequent words, like language.
    fn text(&mut self, words: u64) -> String {
        let n = 5 + self.below(words);
        let mut out = String::new();
        for _ in 0..n {
            let skewed = self.below(VOCABULARY) * self.below(VOCABULARY) / VOCABULARY;
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&word(skewed));
        }
        out
    }
}

fn word(i: u64) -> String {
    let s = |k: u64| SYLLABLES[(k % 20) as usize];
    let mut w = format!("{}{}", s(i), s(i / 20));
    if i >= 400 {
        w.push_str(s(i / 400));
    }
    w
}

/// One run of four messages: question, tool call and result, answer.
fn run_steps(rng: &mut Rng, run: usize, first: bool) -> Vec<StepRecord> {
    let run_id = RunId::new(format!("run-{run}"));
    let call = ToolCall {
        id: format!("call_{run}"),
        name: "search".into(),
        arguments: json!({"query": rng.text(3)}),
    };
    // The first run opens with the system prompt instead of a question.
    let question = if first {
        Message::system("You are a helpful assistant.")
    } else {
        Message::user(rng.text(30))
    };
    let usage = Usage::new(900, 40)
        .with_cached_prompt_tokens(512)
        .with_timings(35.0, 400.0);
    let step = |index, messages, is_final| StepRecord {
        run_id: run_id.clone(),
        index,
        messages,
        usage,
        is_final,
    };
    vec![
        step(0, vec![question], false),
        step(
            1,
            vec![
                Message::assistant_with_calls(rng.text(10), vec![call.clone()]),
                Message::tool_result(
                    ToolResultInfo {
                        call_id: call.id.clone(),
                        name: call.name.clone(),
                        error: None,
                        duration_us: 1_500,
                    },
                    rng.text(60),
                ),
            ],
            false,
        ),
        step(2, vec![Message::assistant(rng.text(40))], true),
    ]
}

fn session_export(rng: &mut Rng, id: &str, runs: usize) -> SessionExport {
    let steps = (0..runs)
        .flat_map(|run| run_steps(rng, run, run == 0))
        .map(|step| LoggedStep {
            step,
            committed_at_ms: 1_700_000_000_000,
        })
        .collect();
    SessionExport {
        format: SessionExport::FORMAT,
        session: SessionInfo {
            id: SessionId::new(id),
            title: format!("Session {id}"),
            created_at_ms: 1_700_000_000_000,
            updated_at_ms: 1_700_000_000_000,
            metadata: json!({"bench": true}),
            message_count: 0,
        },
        steps,
        images: Vec::new(),
    }
}

/// Fills an empty store (bulk import, one transaction per session).
async fn generate(memory: &dyn Memory, size: Size) -> Result<()> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let started = Instant::now();
    for s in 0..size.sessions {
        memory
            .import_session(&session_export(
                &mut rng,
                &format!("s{s:05}"),
                size.runs_per_session,
            ))
            .await?;
        if s % 1_000 == 999 {
            eprintln!("  {} sessions in {:.0?}", s + 1, started.elapsed());
        }
    }
    memory
        .import_session(&session_export(&mut rng, HUGE, size.huge_session_runs))
        .await?;
    eprintln!("  generated in {:.1?}", started.elapsed());
    Ok(())
}

/// Fills a new SQLite database at `path` without waiting for the disk.
async fn generate_sqlite(path: &Path, size: Size) -> Result<()> {
    let memory = SqliteMemory::open_with(path, Durability::Normal).await?;
    generate(&memory, size).await?;
    memory.close().await;
    Ok(())
}

/// The cached database for `size`, generated if missing.
async fn cached_database(size: Size) -> Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("argus-memory-bench");
    let name = format!(
        "memory-v{}-{}x{}-{}.db",
        SqliteMemory::schema_version(),
        size.sessions,
        size.runs_per_session * 4,
        size.huge_session_runs * 4
    );
    let path = dir.join(name);
    if !path.exists() {
        eprintln!("generating {} (once; cached)", path.display());
        std::fs::create_dir_all(&dir)?;
        let partial = path.with_extension("partial");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", partial.display()));
        }
        generate_sqlite(&partial, size).await?;
        std::fs::rename(&partial, &path)?;
    }
    Ok(path)
}

struct Row {
    name: String,
    samples: Vec<Duration>,
    goal_ms: Option<f64>,
}

impl Row {
    fn quantile(&self, q: f64) -> f64 {
        let mut sorted = self.samples.clone();
        sorted.sort();
        let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    }
}

async fn measure<F, Fut>(name: &str, goal_ms: Option<f64>, n: usize, mut op: F) -> Result<Row>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    // Warm the page cache and statement caches first.
    let warm_up = n.div_ceil(10);
    for i in 0..warm_up {
        op(i).await?;
    }
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        op(warm_up + i).await?;
        samples.push(started.elapsed());
    }
    Ok(Row {
        name: name.to_string(),
        samples,
        goal_ms,
    })
}

/// Appends `size.iterations` steps of two messages to a new session of `memory`.
async fn append_row(memory: &dyn Memory, label: &str, goal_ms: f64, size: Size) -> Result<Row> {
    let id = SessionId::new(format!("bench-append-{label}"));
    if memory.session(&id).await.is_ok() {
        memory.delete_session(&id).await?;
    }
    memory
        .create_session(NewSession::named(id.clone(), "append bench"))
        .await?;
    let mut rng = Rng(7);
    let texts: Vec<(String, String)> = (0..size.iterations * 2)
        .map(|_| (rng.text(30), rng.text(40)))
        .collect();
    let row = measure(label, Some(goal_ms), size.iterations, |i| {
        let id = &id;
        let (question, answer) = &texts[i % texts.len()];
        let step = StepRecord {
            run_id: RunId::new("bench"),
            index: i as u32,
            messages: vec![Message::user(question), Message::assistant(answer)],
            usage: Usage::default(),
            is_final: false,
        };
        async move {
            memory.append_step(id, &step).await?;
            Ok(())
        }
    })
    .await?;
    memory.delete_session(&id).await?;
    Ok(row)
}

async fn read_rows(memory: &dyn Memory, size: Size, rows: &mut Vec<Row>) -> Result<()> {
    let mut rng = Rng(11);
    let sessions: Vec<SessionId> = (0..size.iterations * 2)
        .map(|_| SessionId::new(format!("s{:05}", rng.below(size.sessions as u64))))
        .collect();
    let budget = ContextStrategy::TokenBudget {
        max_tokens: 4_000,
        counter: TokenCounter::estimate(),
    };
    let last = ContextStrategy::LastMessages(50);
    let huge = SessionId::new(HUGE);
    let cases = [
        ("context LastMessages(50)", &last, false),
        ("context TokenBudget(4000)", &budget, false),
        ("context, huge session, LastMessages(50)", &last, true),
        ("context, huge session, TokenBudget(4000)", &budget, true),
    ];
    for (name, strategy, on_huge) in cases {
        let row = measure(name, Some(5.0), size.iterations, |i| {
            let id = if on_huge {
                &huge
            } else {
                &sessions[i % sessions.len()]
            };
            async move {
                let context = memory.load_context(id, strategy).await?;
                assert!(!context.is_empty());
                Ok(())
            }
        })
        .await?;
        rows.push(row);
    }

    let one_word: Vec<String> = (0..size.iterations * 2).map(|_| rng.word()).collect();
    let two_words: Vec<String> = (0..size.iterations * 2)
        .map(|_| format!("{} {}", rng.word(), rng.word()))
        .collect();
    let frequent: Vec<String> = (0..size.iterations * 2)
        .map(|_| word(rng.below(20)))
        .collect();
    let searches: [(&str, &Vec<String>, bool); 4] = [
        ("search all sessions, 1 word", &one_word, false),
        ("search all sessions, 2 words", &two_words, false),
        (
            "search all sessions, 1 of the 20 most frequent words",
            &frequent,
            false,
        ),
        ("search one session, 1 word", &one_word, true),
    ];
    for (name, texts, scoped) in searches {
        let row = measure(name, Some(20.0), size.iterations, |i| {
            let mut query = SearchQuery::new(texts[i % texts.len()].clone()).limit(10);
            if scoped {
                query = query.in_session(sessions[i % sessions.len()].clone());
            }
            async move {
                memory.search(&query).await?;
                Ok(())
            }
        })
        .await?;
        rows.push(row);
    }
    Ok(())
}

fn print_table(rows: &[Row]) {
    println!(
        "| {:<52} | {:>5} | {:>8} | {:>8} | {:>8} | {:>6} |",
        "operation", "n", "p50 ms", "p99 ms", "max ms", "goal"
    );
    println!(
        "|{:-<54}|{:->7}|{:->10}|{:->10}|{:->10}|{:->8}|",
        "", "", "", "", "", ""
    );
    for row in rows {
        let p99 = row.quantile(0.99);
        let goal = match row.goal_ms {
            Some(goal) if p99 <= goal => format!("≤{goal} ✓"),
            Some(goal) => format!("≤{goal} ✗"),
            None => String::new(),
        };
        println!(
            "| {:<52} | {:>5} | {:>8.3} | {:>8.3} | {:>8.3} | {:>6} |",
            row.name,
            row.samples.len(),
            row.quantile(0.5),
            p99,
            row.quantile(1.0),
            goal
        );
    }
}

async fn run_sqlite(size: Size, path: &Path) -> Result<()> {
    let bytes = std::fs::metadata(path)?.len();
    println!(
        "SQLite: {} ({:.0} MiB, {} sessions × {} messages + one of {} messages)",
        path.display(),
        bytes as f64 / (1024.0 * 1024.0),
        size.sessions,
        size.runs_per_session * 4,
        size.huge_session_runs * 4
    );
    let mut rows = Vec::new();
    for (durability, label) in [
        (Durability::Full, "append step (Full: fsync)"),
        (Durability::Normal, "append step (Normal)"),
    ] {
        let memory = SqliteMemory::open_with(path, durability).await?;
        rows.push(append_row(&memory, label, 2.0, size).await?);
        memory.close().await;
    }
    let memory = SqliteMemory::open(path).await?;
    read_rows(&memory, size, &mut rows).await?;
    memory.close().await;
    print_table(&rows);
    Ok(())
}

/// The PostgreSQL database to measure: `ARGUS_BENCH_POSTGRES_URL` (filled once), else a new
/// database on a throwaway server made durable. The server, if any, lives as long as the value.
async fn postgres_database(size: Size) -> Result<(String, Option<TestPostgres>)> {
    if let Ok(url) = std::env::var("ARGUS_BENCH_POSTGRES_URL") {
        let memory = PostgresMemory::connect(&url).await?;
        if memory.session(&SessionId::new(HUGE)).await.is_err() {
            eprintln!("filling {} (once; reused)", memory.shown_url());
            generate(&memory, size).await?;
            vacuum_analyze(&url).await?;
        }
        memory.close().await;
        return Ok((url, None));
    }
    let server = TestPostgres::launch()?;
    let url = server.fresh_database().await;
    let admin = sqlx::PgPool::connect(&url).await?;
    for setting in ["fsync", "synchronous_commit", "full_page_writes"] {
        sqlx::query(&format!("ALTER SYSTEM SET {setting} = on"))
            .execute(&admin)
            .await?;
    }
    admin.close().await;
    server.stop();
    server.start();
    let memory = PostgresMemory::connect(&url).await?;
    eprintln!("generating the PostgreSQL database (on every run)");
    generate(&memory, size).await?;
    vacuum_analyze(&url).await?;
    memory.close().await;
    Ok((url, Some(server)))
}

/// Vacuums and analyses a freshly filled database, as autovacuum would soon after (and then
/// in the middle of the measurements).
async fn vacuum_analyze(url: &str) -> Result<()> {
    let pool = sqlx::PgPool::connect(url).await?;
    sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
    pool.close().await;
    Ok(())
}

async fn run_postgres(size: Size) -> Result<()> {
    let (url, _server) = postgres_database(size).await?;
    let pool = sqlx::PgPool::connect(&url).await?;
    let (version, bytes): (String, i64) = sqlx::query_as(
        "SELECT current_setting('server_version'), pg_database_size(current_database())",
    )
    .fetch_one(&pool)
    .await?;
    pool.close().await;
    let memory = PostgresMemory::connect(&url).await?;
    println!(
        "PostgreSQL {version} on loopback: {} ({:.0} MiB, {} sessions × {} messages + one of {} messages)",
        memory.shown_url(),
        bytes as f64 / (1024.0 * 1024.0),
        size.sessions,
        size.runs_per_session * 4,
        size.huge_session_runs * 4
    );
    let mut rows = vec![append_row(&memory, "append step (commit: fsync)", 5.0, size).await?];
    read_rows(&memory, size, &mut rows).await?;
    memory.close().await;
    print_table(&rows);
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|arg| arg == "--bench");
    let only = |name: &str| {
        !args.iter().any(|a| a == "sqlite" || a == "postgres") || args.iter().any(|a| a == name)
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let size = if bench { FULL } else { SMOKE };
        if only("sqlite") {
            if bench {
                let path = cached_database(FULL).await?;
                run_sqlite(FULL, &path).await?;
            } else {
                let dir = tempfile::tempdir()?;
                let path = dir.path().join("smoke.db");
                generate_sqlite(&path, SMOKE).await?;
                run_sqlite(SMOKE, &path).await?;
            }
        }
        if only("postgres") {
            run_postgres(size).await?;
        }
        Ok(())
    })
}
