//! `argus serve`'s `/v1/chat/completions` with the official `openai` Python client
//! (`tests/clients/openai_client.py`): answers, session continuity over `X-Argus-Session`, and a
//! stream. Skips without `python3` or its `openai` package, or fails when `CI` or
//! `ARGUS_REQUIRE_PYTHON_OPENAI` is set.

#![allow(missing_docs, clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "serve_support/mod.rs"]
mod serve_support;

use std::path::Path;
use std::process::{Command, Stdio};

use argus_core::ChatResponse;
use serde_json::{json, Value};
use serve_support::{get_json, runtime, skip_or_fail, Server};

const REQUIRE: &str = "ARGUS_REQUIRE_PYTHON_OPENAI";

/// Whether `python3` with the `openai` package is here; skips or fails when not.
fn python_openai() -> bool {
    match Command::new("python3")
        .args(["-c", "import openai"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
    {
        Err(e) => !skip_or_fail(REQUIRE, &format!("cannot run python3: {e}")),
        Ok(output) if !output.status.success() => !skip_or_fail(
            REQUIRE,
            &format!(
                "python3 has no openai package (pip install openai): {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ),
        Ok(_) => true,
    }
}

/// The text of every user message in a `/api/sessions/{id}` timeline.
fn user_texts(timeline: &Value) -> Vec<String> {
    let mut texts = Vec::new();
    for step in timeline["steps"].as_array().unwrap() {
        for message in step["step"]["messages"].as_array().unwrap() {
            if message["role"] == "user" {
                for part in message["content"].as_array().unwrap() {
                    if let Some(text) = part["text"].as_str() {
                        texts.push(text.to_string());
                    }
                }
            }
        }
    }
    texts
}

#[test]
fn the_python_openai_client_talks_to_argus_serve() {
    if !python_openai() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("memory.db");
    let replay = serve_support::replay(
        work.path(),
        &[
            ChatResponse::text("Noted: Friday."),
            ChatResponse::text("The meeting is on Friday."),
            ChatResponse::text("Streamed, word by word."),
        ],
    );
    let server = Server::start(
        work.path(),
        &[
            "--replay",
            &replay,
            "--no-tools",
            "--db",
            db.to_str().unwrap(),
        ],
    );
    let expected = json!({
        "session": "py-notes",
        "first": "Noted: Friday.",
        "second": "The meeting is on Friday.",
        "stream_session": "py-stream",
        "streamed": "Streamed, word by word.",
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/openai_client.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(&server.url)
        .arg(expected.to_string())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{} failed: {:?}\n{stdout}\n{stderr}",
        script.display(),
        output.status
    );
    let seen: Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    println!("openai client saw: {seen}");
    assert_eq!(seen["first"], "Noted: Friday.");
    assert_eq!(seen["second"], "The meeting is on Friday.");
    assert_eq!(seen["streamed"], "Streamed, word by word.");
    assert_eq!(seen["finish_reason"], "stop");

    runtime().block_on(async {
        let notes = get_json(&server.at("/api/sessions/py-notes")).await;
        assert_eq!(
            user_texts(&notes),
            [
                "Remember: the meeting is on Friday.",
                "When is the meeting?"
            ]
        );
        assert_eq!(notes["totals"]["runs"], 2);
        let answers = notes.to_string();
        assert!(answers.contains("Noted: Friday."), "{answers}");
        assert!(answers.contains("The meeting is on Friday."), "{answers}");
        let streamed = get_json(&server.at("/api/sessions/py-stream")).await;
        assert_eq!(user_texts(&streamed), ["Stream, please."]);
        assert!(
            streamed.to_string().contains("Streamed, word by word."),
            "{streamed}"
        );
    });
}
