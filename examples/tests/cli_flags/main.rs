//! Runs the real `argus` binary once per row of the flag table: no row may panic, and each
//! ends with the exit code the table gives.

#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;
mod table;

use std::path::Path;

use argus_core::ChatResponse;
use argus_vision::testkit::{write_mllama, MllamaSpec, ServedModel, TestServer};
use support::{argus, argus_in};

/// The files the placeholders name, made in `work`.
struct Fixture {
    values: Vec<(&'static str, String)>,
}

impl Fixture {
    fn new(work: &Path, api: &str) -> Fixture {
        let at = |name: &str| work.join(name).to_str().unwrap().to_string();
        image::RgbImage::from_pixel(16, 16, image::Rgb([200, 30, 30]))
            .save(work.join("photo.png"))
            .unwrap();
        // Two answers: one for the question, one spare for a run that asks twice.
        let answer = serde_json::to_string(&ChatResponse::text("4")).unwrap();
        std::fs::write(work.join("replay.jsonl"), format!("{answer}\n{answer}\n")).unwrap();
        // The built-in suite cut to its first case.
        let mut suite: serde_json::Value =
            serde_json::from_str(include_str!("../../data/tool_eval.json")).unwrap();
        let cases = suite["cases"].as_array_mut().unwrap();
        cases.truncate(1);
        std::fs::write(work.join("suite.json"), suite.to_string()).unwrap();
        Fixture {
            values: vec![
                ("{mllama}", at("demo/mllama")),
                ("{gguf}", at("demo/tiny-llama.gguf")),
                ("{image}", at("photo.png")),
                ("{replay}", at("replay.jsonl")),
                ("{record}", at("record.jsonl")),
                ("{db}", at("memory.db")),
                ("{cache}", at("cache")),
                ("{suite}", at("suite.json")),
                ("{export}", at("notes.json")),
                ("{api}", api.to_string()),
                (
                    "{mcp}",
                    format!(
                        "node {}",
                        argus_mcp::testkit::peer_bin("mcp-server-everything").display()
                    ),
                ),
                ("{work}", at("")),
            ],
        }
    }

    fn fill(&self, arg: &str) -> String {
        self.values
            .iter()
            .fold(arg.to_string(), |arg, (name, value)| {
                arg.replace(name, value.trim_end_matches('/'))
            })
    }
}

#[test]
fn every_documented_flag_runs_without_a_panic() {
    let work = tempfile::tempdir().unwrap();
    // The server runs on the runtime's workers while this thread runs `argus`.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let served = work.path().join("served");
    write_mllama(&served, &MllamaSpec::default()).unwrap();
    let server = runtime
        .block_on(TestServer::start(ServedModel::Multimodal(served)))
        .unwrap();
    let fixture = Fixture::new(work.path(), server.base_url());
    let mut failures = Vec::new();
    for row in table::ROWS {
        let args: Vec<String> = row.args.iter().map(|arg| fixture.fill(arg)).collect();
        let output = argus(&args, row.stdin);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let code = output.status.code();
        let panicked = stderr.contains("panicked") || stderr.contains("internal error");
        if panicked || code != Some(row.exit) {
            failures.push(format!(
                "argus {}\n  exit {code:?} (expected {})\n  stderr: {stderr}",
                row.args.join(" "),
                row.exit
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_url_the_build_cannot_serve_is_one_line_without_the_password() {
    let work = tempfile::tempdir().unwrap();
    let args: Vec<String> = [
        "sessions",
        "--db",
        "mysql://argus:hunter2@db.internal/argus",
        "list",
    ]
    .map(String::from)
    .to_vec();
    let output = argus_in(work.path(), &args, "");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("sqlite://PATH"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(
        std::fs::read_dir(work.path()).unwrap().next().is_none(),
        "nothing is created"
    );
}

#[test]
fn an_exhausted_replay_names_its_cause_once() {
    let work = tempfile::tempdir().unwrap();
    let empty = work.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let args: Vec<String> = ["run", "--replay", empty.to_str().unwrap(), "--yes", "hi"]
        .map(String::from)
        .to_vec();
    let output = argus(&args, "");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.matches("no more responses").count(), 1, "{stderr}");
}
