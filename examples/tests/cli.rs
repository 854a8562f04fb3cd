//! Drives the real `argus` binary on the demo models, a real SQLite file and real mistral.rs.

#![allow(missing_docs, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use serde_json::Value;
use support::argus;

mod support;

/// A 16×16 RGB PNG.
const PNG: &[u8] = &[
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 16, 0, 0, 0, 16, 8, 2,
    0, 0, 0, 144, 145, 104, 54, 0, 0, 1, 150, 73, 68, 65, 84, 120, 218, 21, 209, 81, 21, 68, 33, 8,
    69, 81, 35, 24, 129, 8, 70, 48, 2, 17, 136, 96, 132, 19, 193, 8, 70, 32, 2, 17, 136, 64, 4, 34,
    204, 27, 191, 217, 172, 203, 117, 140, 193, 28, 200, 96, 13, 246, 64, 7, 54, 56, 3, 6, 119,
    240, 6, 62, 136, 65, 14, 106, 208, 131, 49, 38, 115, 34, 147, 53, 217, 19, 157, 216, 228, 76,
    152, 220, 201, 155, 248, 36, 38, 57, 169, 73, 207, 15, 8, 83, 16, 97, 9, 91, 80, 193, 132, 35,
    32, 92, 225, 9, 46, 132, 144, 66, 9, 45, 31, 88, 204, 133, 44, 214, 98, 47, 116, 97, 139, 179,
    96, 113, 23, 111, 225, 139, 88, 228, 162, 22, 189, 62, 176, 153, 27, 217, 172, 205, 222, 232,
    198, 54, 103, 195, 230, 110, 222, 198, 55, 177, 201, 77, 109, 122, 127, 64, 153, 138, 40, 75,
    217, 138, 42, 166, 28, 5, 229, 42, 79, 113, 37, 148, 84, 74, 105, 253, 128, 49, 13, 49, 150,
    177, 13, 53, 204, 56, 6, 198, 53, 158, 225, 70, 24, 105, 148, 209, 246, 129, 195, 60, 200, 97,
    29, 246, 65, 15, 118, 56, 7, 14, 247, 240, 14, 126, 136, 67, 30, 234, 208, 231, 3, 255, 2, 191,
    74, 190, 35, 191, 216, 95, 144, 111, 245, 55, 252, 127, 23, 30, 56, 4, 36, 20, 244, 247, 61,
    227, 50, 47, 114, 89, 151, 125, 209, 139, 93, 206, 253, 143, 223, 203, 187, 248, 37, 46, 121,
    169, 75, 223, 15, 60, 230, 67, 30, 235, 177, 31, 250, 176, 199, 121, 255, 229, 247, 241, 30,
    254, 136, 71, 62, 234, 209, 239, 3, 206, 116, 196, 89, 206, 118, 212, 49, 231, 248, 63, 202,
    117, 158, 227, 78, 56, 233, 148, 211, 254, 129, 96, 6, 18, 172, 96, 7, 26, 88, 112, 226, 31,
    252, 6, 47, 240, 32, 130, 12, 42, 232, 248, 64, 50, 19, 73, 86, 178, 19, 77, 44, 57, 249, 63,
    243, 38, 47, 241, 36, 146, 76, 42, 233, 252, 64, 49, 11, 41, 86, 177, 11, 45, 172, 56, 245, 47,
    229, 22, 175, 240, 34, 138, 44, 170, 232, 250, 64, 51, 27, 105, 86, 179, 27, 109, 172, 57, 253,
    175, 240, 54, 175, 241, 38, 154, 108, 170, 233, 230, 7, 136, 2, 112, 16, 11, 115, 95, 192, 0,
    0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

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

/// The demo models, written once per test binary.
fn demo() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        ok(argus(&["demo-model", dir.to_str().unwrap()], ""));
        dir
    })
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn run_on_the_demo_vision_model_with_an_image_prints_the_trace() {
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("photo.png");
    std::fs::write(&image, PNG).unwrap();
    let model = demo().join("mllama");
    let stdout = ok(argus(
        &[
            "run",
            "--model",
            path(&model),
            "--image",
            path(&image),
            "--tool-choice",
            "required",
            // Room for any grammar-constrained call (strings are capped at 256 characters).
            "--max-tokens",
            "1024",
            "--max-steps",
            "3",
            "--workspace",
            path(work.path()),
            "--json",
            "What is 2 + 2?",
        ],
        "",
    ));
    let trace: Value = serde_json::from_str(&stdout).unwrap();
    let steps = trace["trace"]["steps"].as_array().unwrap();
    assert!(!steps.is_empty());
    // Llama 3.2 Vision takes no tools with images, so by default the agent first observes
    // the photo in a step without tools.
    let observation = steps[0]["assistant"]["content"][0]["text"]
        .as_str()
        .unwrap();
    assert!(
        observation.starts_with("Observation of image #1 sha256:"),
        "{observation}"
    );
    // The first acting step was forced to call a registered tool with schema-valid arguments,
    // so it was dispatched and answered.
    let first = &steps[1];
    let call = &first["assistant"]["tool_calls"][0];
    assert!(call["name"].is_string(), "{first}");
    let result = &first["tool_results"][0]["tool_result"];
    assert_eq!(result["call_id"], call["id"]);
    assert!(trace["trace"]["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert!(trace["answer"].is_string());
}

fn chat(db: &Path, session: &str, input: &str) -> String {
    let model = demo().join("tiny-llama.gguf");
    ok(argus(
        &[
            "chat",
            "--model",
            path(&model),
            "--db",
            path(db),
            "--session",
            session,
            "--no-tools",
            "--max-tokens",
            "8",
        ],
        input,
    ))
}

#[test]
fn a_chat_session_resumes_after_the_process_exits_and_is_searchable() {
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("memory.db");
    chat(&db, "notes", "My locker code is 4711.\n/quit\n");
    chat(&db, "notes", "What was my locker code?\n");

    let shown = ok(argus(&["sessions", "--db", path(&db), "show", "notes"], ""));
    let lines: Vec<&str> = shown.lines().filter(|l| l.starts_with("user:")).collect();
    assert_eq!(
        lines,
        [
            "user: My locker code is 4711.",
            "user: What was my locker code?"
        ]
    );
    assert!(
        shown
            .lines()
            .filter(|l| l.starts_with("assistant:"))
            .count()
            >= 2
    );

    let found = ok(argus(
        &["sessions", "--db", path(&db), "search", "locker 4711"],
        "",
    ));
    assert!(found.starts_with("notes#0\tuser\t"), "{found}");
    let listed = ok(argus(&["sessions", "--db", path(&db), "list"], ""));
    assert!(listed.starts_with("notes\t"), "{listed}");

    let export = work.path().join("notes.json");
    ok(argus(
        &[
            "sessions",
            "--db",
            path(&db),
            "export",
            "notes",
            "--out",
            path(&export),
        ],
        "",
    ));
    ok(argus(
        &["sessions", "--db", path(&db), "delete", "notes"],
        "",
    ));
    let gone = argus(&["sessions", "--db", path(&db), "show", "notes"], "");
    assert_eq!(gone.status.code(), Some(3));
    ok(argus(
        &["sessions", "--db", path(&db), "import", path(&export)],
        "",
    ));
    assert_eq!(
        ok(argus(&["sessions", "--db", path(&db), "show", "notes"], "")),
        shown
    );

    // An export of a newer format is invalid input (exit 4), named in one line.
    let mut newer: Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    newer["format"] = Value::from(999);
    newer["session"]["id"] = Value::from("from-the-future");
    let future = work.path().join("future.json");
    std::fs::write(&future, serde_json::to_vec(&newer).unwrap()).unwrap();
    let refused = argus(
        &["sessions", "--db", path(&db), "import", path(&future)],
        "",
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("format 999"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn a_recorded_run_replays_byte_for_byte() {
    let work = tempfile::tempdir().unwrap();
    let recording = work.path().join("run.jsonl");
    let model = demo().join("tiny-llama.gguf");
    let common = ["--no-tools", "--max-tokens", "12"];
    let mut record = vec!["run", "--model", path(&model), "--record", path(&recording)];
    record.extend(common);
    record.push("Say something.");
    let original = ok(argus(&record, ""));
    let mut replay = vec!["run", "--replay", path(&recording)];
    replay.extend(common);
    replay.push("Say something.");
    let replayed = ok(argus(&replay, ""));
    assert!(!original.trim().is_empty());
    assert_eq!(replayed.as_bytes(), original.as_bytes());
}

fn fails_with(args: &[&str], code: i32, needle: &str) {
    let output = argus(args, "");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("argus: "), "{stderr}");
    assert!(stderr.contains(needle), "{needle} in {stderr}");
}

#[test]
fn bad_input_exits_non_zero_with_one_line() {
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("memory.db");
    let not_an_image = work.path().join("notes.txt");
    std::fs::write(&not_an_image, "plain text").unwrap();
    let model = demo().join("tiny-llama.gguf");

    fails_with(&["run", "--model", "/no/such/model", "hi"], 3, "not found");
    fails_with(&["run", "--model", "./missing.gguf", "hi"], 3, "not found");
    fails_with(
        &[
            "run",
            "--model",
            path(&model),
            "--image",
            path(&not_an_image),
            "hi",
        ],
        4,
        "image",
    );
    fails_with(
        &[
            "run",
            "--model",
            path(&model),
            "--image",
            "/no/such.png",
            "hi",
        ],
        3,
        "does not exist",
    );
    fails_with(
        &["sessions", "--db", path(&db), "show", "nope"],
        3,
        "no session named",
    );
    fails_with(
        &["run", "--replay", "/no/such.jsonl", "hi"],
        3,
        "does not exist",
    );
}

#[test]
fn the_image_tool_crops_the_photo_the_user_attached() {
    let work = tempfile::tempdir().unwrap();
    let photo = work.path().join("photo.png");
    std::fs::write(&photo, PNG).unwrap();
    let zoom = argus_core::ChatResponse::tool_calls(vec![argus_core::ToolCall::new(
        "image",
        serde_json::json!({
            "image": "#1",
            "region": {"x": 0.0, "y": 0.0, "width": 0.5, "height": 0.5},
            "max_edge": 64
        }),
    )]);
    let answer = argus_core::ChatResponse::text("The sign says STOP.");
    let replay = work.path().join("replay.jsonl");
    std::fs::write(
        &replay,
        format!(
            "{}\n{}\n",
            serde_json::to_string(&zoom).unwrap(),
            serde_json::to_string(&answer).unwrap()
        ),
    )
    .unwrap();
    let stdout = ok(argus(
        &[
            "run",
            "--replay",
            path(&replay),
            "--image",
            path(&photo),
            "--workspace",
            path(work.path()),
            "--json",
            "Zoom into the top-left corner and read the sign.",
        ],
        "",
    ));
    let trace: Value = serde_json::from_str(&stdout).unwrap();
    let result = &trace["trace"]["steps"][0]["tool_results"][0];
    assert!(result["tool_result"]["error"].is_null(), "{result}");
    let text = result["content"][0]["text"].as_str().unwrap();
    let info: Value = serde_json::from_str(text).unwrap();
    assert_eq!(info["region"]["width"], 0.5, "{info}");
    assert_eq!(
        (info["width"].as_u64(), info["height"].as_u64()),
        (Some(64), Some(64))
    );
    assert!(
        info["source"]
            .as_str()
            .unwrap()
            .starts_with("conversation image #1"),
        "{info}"
    );
    // The crop reaches the model as an image of its own.
    let cropped = &result["content"][1]["image"];
    assert_eq!(cropped["sha256"], info["sha256"], "{result}");
    assert_eq!(trace["answer"], "The sign says STOP.");
}

#[test]
fn the_vision_eval_compares_both_strategies_on_the_demo_vision_model() {
    let model = demo().join("mllama");
    let stdout = ok(argus(
        &[
            "eval",
            "--model",
            path(&model),
            "--vision",
            "--max-tokens",
            "8",
            "--json",
        ],
        "",
    ));
    // The model family's own choice is named, and both strategies have a row.
    assert!(
        stdout.contains("its default strategy: perceive_then_act"),
        "{stdout}"
    );
    assert!(stdout.contains("\n| direct | 5 |"), "{stdout}");
    assert!(stdout.contains("\n| perceive_then_act | 5 |"), "{stdout}");
    let scores: Vec<Value> = stdout
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let of = |strategy: &str| -> Vec<&Value> {
        scores
            .iter()
            .filter(|s| s["strategy"] == strategy)
            .collect()
    };
    let (direct, perceive) = (of("direct"), of("perceive_then_act"));
    assert_eq!((direct.len(), perceive.len()), (5, 5), "{stdout}");
    let sum = |scores: &[&Value], key: &str| -> u64 {
        scores.iter().map(|s| s[key].as_u64().unwrap()).sum()
    };
    assert!(sum(&direct, "images_with_tools") > 0, "{stdout}");
    assert_eq!(sum(&perceive, "images_with_tools"), 0, "{stdout}");
    // Perceive-then-act shows every picture, without tools, in an observing call first.
    for score in &perceive {
        assert!(score["images_sent"].as_u64().unwrap() >= 1, "{score}");
        assert!(score["model_calls"].as_u64().unwrap() >= 2, "{score}");
    }
}

#[test]
fn an_unknown_vision_strategy_is_a_usage_error() {
    for args in [
        &[
            "run",
            "--replay",
            "r.jsonl",
            "--vision-strategy",
            "both",
            "hi",
        ][..],
        &["chat", "--replay", "r.jsonl", "--vision-strategy", "both"],
        &[
            "eval",
            "--replay",
            "r.jsonl",
            "--vision",
            "--vision-strategy",
            "both",
        ],
    ] {
        let output = argus(args, "");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(
                "unknown vision strategy `both`: expected `direct` or `perceive-then-act`"
            ),
            "{stderr}"
        );
    }
    // The eval's strategy only applies to the vision suite.
    let output = argus(
        &["eval", "--replay", "r.jsonl", "--vision-strategy", "direct"],
        "",
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--vision"), "{stderr}");
}
