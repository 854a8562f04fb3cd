//! Load on `argus serve`: streamed completions on a replayed model.
//!
//! Starts the real `argus` binary (`argus serve --replay FILE --no-tools --db …`) on a loopback
//! port. The replayed model answers every call at once, so the latency measured here is the
//! latency the server adds: parsing the request, opening the session in memory, running the
//! agent, committing its step and writing the SSE chunks.
//!
//! - sequential: 50 streamed requests one at a time → latency (request sent to `data: [DONE]`
//!   read) and time to the first body chunk;
//! - concurrent: 100 streamed requests at once, each in its own session → errors (a status
//!   other than 200, a chunk that is not a `chat.completion.chunk`, an error event, or no
//!   `[DONE]`; there must be none), latency p50/p99/max and the wall time of the burst.
//!
//! Memory is SQLite in a temp dir, and also PostgreSQL when `ARGUS_BENCH_POSTGRES_URL` is set
//! (`postgres://…`; sessions are named uniquely per run, so a database may be reused).
//!
//! Run: `cargo bench -p argus-examples --no-default-features --bench serve_load`
//!
//! Without `--bench` (as `cargo test --benches` runs it) it is a smoke test: 5 sequential and
//! 10 concurrent requests, still failing on any error.

#![allow(missing_docs, clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../tests/serve_support/mod.rs"]
mod serve_support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use argus_core::ChatResponse;
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use serde_json::{json, Value};
use serve_support::Server;

/// Requests: warm-up, sequential, concurrent.
struct Sizes {
    warmup: usize,
    sequential: usize,
    concurrent: usize,
}

const FULL: Sizes = Sizes {
    warmup: 5,
    sequential: 50,
    concurrent: 100,
};

const SMOKE: Sizes = Sizes {
    warmup: 1,
    sequential: 5,
    concurrent: 10,
};

/// One streamed request: its latency to `[DONE]`, to the first body chunk, and what went
/// wrong, if anything.
struct Outcome {
    total: Duration,
    first_chunk: Option<Duration>,
    error: Option<String>,
}

/// The `data:` payloads of a server-sent event stream, in order.
fn sse_data(body: &str) -> Vec<&str> {
    body.split("\n\n")
        .flat_map(str::lines)
        .filter_map(|line| line.strip_prefix("data:"))
        .map(str::trim_start)
        .collect()
}

/// Why a streamed body is not chunks then `[DONE]`, if it is not.
fn check_stream(body: &str) -> Option<String> {
    let data = sse_data(body);
    let Some((&last, chunks)) = data.split_last() else {
        return Some("no SSE data".into());
    };
    if last != "[DONE]" {
        return Some(format!("last event {last:?}, not [DONE]"));
    }
    if chunks.is_empty() {
        return Some("no chunk before [DONE]".into());
    }
    for chunk in chunks {
        let Ok(value) = serde_json::from_str::<Value>(chunk) else {
            return Some(format!("malformed chunk {chunk:?}"));
        };
        if value["object"] != "chat.completion.chunk" {
            return Some(format!("not a completion chunk: {chunk}"));
        }
    }
    None
}

async fn stream_once(client: &reqwest::Client, url: &str, session: &str) -> Outcome {
    let body = json!({
        "model": "argus",
        "stream": true,
        "messages": [{"role": "user", "content": format!("Question for {session}")}],
    });
    let started = Instant::now();
    let fail = |error: String| Outcome {
        total: started.elapsed(),
        first_chunk: None,
        error: Some(error),
    };
    let response = match client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .header("X-Argus-Session", session)
        .body(body.to_string())
        .send()
        .await
    {
        Ok(response) => response,
        Err(e) => return fail(format!("request: {e}")),
    };
    let mut response = response;
    let status = response.status();
    let mut first_chunk = None;
    let mut text = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if first_chunk.is_none() && !chunk.is_empty() {
                    first_chunk = Some(started.elapsed());
                }
                text.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return fail(format!("body: {e}")),
        }
    }
    let total = started.elapsed();
    let text = String::from_utf8_lossy(&text);
    let error = if status != StatusCode::OK {
        Some(format!("status {status}: {text}"))
    } else {
        check_stream(&text)
    };
    Outcome {
        total,
        first_chunk,
        error,
    }
}

/// The nearest-rank `p` percentile (0 < p ≤ 1) of sorted durations.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// One row of the result table.
struct Row {
    memory: &'static str,
    phase: String,
    requests: usize,
    errors: usize,
    latency: Vec<Duration>,
    first_chunk: Vec<Duration>,
    wall: Duration,
}

impl Row {
    fn new(
        memory: &'static str,
        phase: String,
        outcomes: &[Outcome],
        wall: Duration,
    ) -> (Row, Vec<String>) {
        let mut latency: Vec<Duration> = outcomes.iter().map(|o| o.total).collect();
        let mut first_chunk: Vec<Duration> =
            outcomes.iter().filter_map(|o| o.first_chunk).collect();
        latency.sort();
        first_chunk.sort();
        let errors: Vec<String> = outcomes.iter().filter_map(|o| o.error.clone()).collect();
        let row = Row {
            memory,
            phase,
            requests: outcomes.len(),
            errors: errors.len(),
            latency,
            first_chunk,
            wall,
        };
        (row, errors)
    }

    fn markdown(&self) -> String {
        let first = if self.first_chunk.is_empty() {
            "–".to_string()
        } else {
            ms(percentile(&self.first_chunk, 0.5))
        };
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            self.memory,
            self.phase,
            self.requests,
            self.errors,
            ms(percentile(&self.latency, 0.5)),
            ms(percentile(&self.latency, 0.99)),
            ms(*self.latency.last().unwrap()),
            first,
            ms(self.wall),
        )
    }
}

/// Runs the sequential and concurrent phases against one server; returns the rows and every
/// error seen.
async fn measure(
    memory: &'static str,
    url: &str,
    prefix: &str,
    sizes: &Sizes,
) -> (Vec<Row>, Vec<String>) {
    let client = reqwest::Client::new();
    let mut errors = Vec::new();
    for i in 0..sizes.warmup {
        let outcome = stream_once(&client, url, &format!("{prefix}-warm-{i}")).await;
        errors.extend(outcome.error);
    }

    let started = Instant::now();
    let mut outcomes = Vec::new();
    for i in 0..sizes.sequential {
        outcomes.push(stream_once(&client, url, &format!("{prefix}-seq-{i}")).await);
    }
    let (sequential, seq_errors) =
        Row::new(memory, "sequential".into(), &outcomes, started.elapsed());
    errors.extend(seq_errors);

    let started = Instant::now();
    let tasks: Vec<_> = (0..sizes.concurrent)
        .map(|i| {
            let client = client.clone();
            let url = url.to_string();
            let session = format!("{prefix}-conc-{i}");
            tokio::spawn(async move { stream_once(&client, &url, &session).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let (concurrent, conc_errors) = Row::new(
        memory,
        format!("{} concurrent", sizes.concurrent),
        &outcomes,
        started.elapsed(),
    );
    errors.extend(conc_errors);
    (vec![sequential, concurrent], errors)
}

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let sizes = if full { FULL } else { SMOKE };
    let work = tempfile::tempdir().unwrap();

    // One immediate answer per model call, plus slack.
    let calls = sizes.warmup + sizes.sequential + sizes.concurrent;
    let lines: Vec<String> = (0..calls + 10)
        .map(|i| serde_json::to_string(&ChatResponse::text(format!("Answer {i}."))).unwrap())
        .collect();
    let replay = work.path().join("replay.jsonl");
    std::fs::write(&replay, lines.join("\n") + "\n").unwrap();

    let sqlite = work.path().join("memory.db");
    let mut targets = vec![("SQLite", sqlite.to_str().unwrap().to_string())];
    if let Some(url) = std::env::var("ARGUS_BENCH_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
    {
        targets.push(("PostgreSQL", url));
    }
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let prefix = format!("bench-{}-{stamp}", std::process::id());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let replay = replay.to_str().unwrap();
    for (memory, db) in &targets {
        let server = Server::start(
            work.path(),
            &["--no-tools", "--replay", replay, "--db", db.as_str()],
        );
        let url = server.at("/v1/chat/completions");
        let (more_rows, more_errors) = runtime.block_on(measure(memory, &url, &prefix, &sizes));
        rows.extend(more_rows);
        errors.extend(more_errors.into_iter().map(|e| format!("{memory}: {e}")));
        drop(server);
    }

    println!(
        "\nargus serve, streamed completions on a replayed model (latency in ms; {} warm-up \
         requests first){}",
        sizes.warmup,
        if full { "" } else { " — smoke run" },
    );
    println!();
    println!("| memory | phase | requests | errors | p50 | p99 | max | first chunk p50 | wall |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!("{}", row.markdown());
    }
    println!();
    for error in errors.iter().take(10) {
        eprintln!("error: {error}");
    }
    assert!(errors.is_empty(), "{} requests failed", errors.len());
}
