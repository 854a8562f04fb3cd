//! Runs the example programs that need no model weights, as a user would run them.
//!
//! The examples are built once with `cargo build --workspace --examples` in the same target
//! directory, then each binary is run directly. `--workspace` unifies features exactly as
//! `cargo test --workspace` does, so under that command the nested build reuses every artefact
//! the test build made instead of compiling tokio, sqlx and mistral.rs a second time. Cargo
//! releases its build lock before it runs test binaries, so the nested `cargo` only waits for
//! other builds that happen to run at the same time.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

/// The example binaries of `argus-examples` by name, built on first use.
fn examples() -> &'static HashMap<String, PathBuf> {
    static EXAMPLES: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    EXAMPLES.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let mut build = Command::new(cargo);
        // Cargo gives this test process the package's `CARGO_MANIFEST_DIR`, `CARGO_PKG_*` and so on.
        // Build scripts that read them (ring's does) would see values the outer build did not, and
        // cargo would rebuild them and everything above them, in both builds, every time.
        for (name, _) in std::env::vars_os() {
            if is_set_by_cargo_for_tests(&name.to_string_lossy()) {
                build.env_remove(name);
            }
        }
        let build = build
            .current_dir(workspace)
            .args(["build", "--workspace", "--examples"])
            .args(["--message-format", "json-render-diagnostics"])
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(build.status.success(), "building the examples failed");
        let stdout = String::from_utf8(build.stdout).unwrap();
        stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|message| message["reason"] == "compiler-artifact")
            .filter(|artifact| artifact["target"]["kind"][0] == "example")
            .filter_map(|artifact| {
                let name = artifact["target"]["name"].as_str()?.to_string();
                Some((name, PathBuf::from(artifact["executable"].as_str()?)))
            })
            .collect()
    })
}

/// Whether cargo sets the environment variable `name` for the package whose tests it runs, as
/// opposed to variables that configure cargo itself (`CARGO`, `CARGO_HOME`, `CARGO_TARGET_DIR`, …).
fn is_set_by_cargo_for_tests(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || matches!(
            name,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "CARGO_RUSTC_CURRENT_DIR"
                | "OUT_DIR"
        )
}

/// Runs an example with `args`; returns its output, whatever its exit status.
fn run_example(name: &str, args: &[&str]) -> Output {
    let binary = examples()
        .get(name)
        .unwrap_or_else(|| panic!("no example `{name}`"));
    let output = Command::new(binary)
        .args(args)
        .env_remove("ARGUS_MODEL")
        .output()
        .unwrap();
    eprintln!(
        "--- {name} {args:?}: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs an example that must succeed; returns its standard output.
fn stdout_of(name: &str, args: &[&str]) -> String {
    let output = run_example(name, args);
    assert!(output.status.success(), "{name} failed: {}", output.status);
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn custom_tools_prints_the_specs_and_runs_all_three_styles() {
    let out = stdout_of("custom_tools", &[]);
    let specs_end = out.find("\n]\n").expect("no specs JSON") + 2;
    let specs: serde_json::Value = serde_json::from_str(&out[..specs_end]).unwrap();
    let names: Vec<&str> = specs
        .as_array()
        .unwrap()
        .iter()
        .map(|spec| spec["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["inventory", "convert", "label"]);
    assert_eq!(
        specs[1]["parameters"]["properties"]["to"]["description"],
        "Target currency code, `EUR` or `USD`."
    );
    assert!(out.contains("inventory -> 12\n"), "{out}");
    assert!(out.contains("convert -> 18"), "{out}");
    assert!(out.contains("label -> [ LAMP ]\n"), "{out}");
    assert!(out.contains("answer: 12 lamps in stock"), "{out}");
}

#[test]
fn persistent_memory_recalls_a_fact_after_reopening_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("notes.db");
    let out = stdout_of("persistent_memory", &[db.to_str().unwrap()]);
    assert!(db.exists());
    assert!(
        out.contains("run 2: the model was sent 4 messages"),
        "{out}"
    );
    assert!(
        out.contains(r#"recall -> [{"session_id":"kitchen-renovation","position":0,"#),
        "{out}"
    );
    assert!(out.contains("run 2: Your tiler is Marta."), "{out}");
    assert!(out.contains("search 'budget': message 0 (user)"), "{out}");
    assert!(out.contains("holds 6 messages"), "{out}");
}

#[test]
fn research_assistant_fetches_the_allowed_page_and_nothing_else() {
    let out = stdout_of("research_assistant", &[]);
    assert!(out.contains("Status: 200"), "{out}");
    assert!(out.contains("Rottnest Island"), "{out}");
    assert!(
        !out.contains("track()"),
        "scripts must not reach the model: {out}"
    );
    assert_eq!(out.matches("refused to connect").count(), 2, "{out}");
    assert!(out.contains("the page server: 1\n"), "{out}");
    assert!(out.contains("the internal one: 0\n"), "{out}");
}

#[test]
fn streaming_ui_shows_deltas_tool_calls_and_the_final_answer() {
    let out = stdout_of("streaming_ui", &[]);
    assert!(out.starts_with("Let me work that out."), "{out}");
    assert!(out.contains("⚙ calculator("), "{out}");
    assert!(out.contains("✓ 52\n"), "{out}");
    assert!(out.contains("⚙ clock("), "{out}");
    assert_eq!(out.matches("└ step").count(), 3, "{out}");
    assert!(
        out.contains("final answer after 3 steps: Three notebooks"),
        "{out}"
    );
}

#[test]
fn vision_assistant_without_arguments_prints_its_usage_and_exits_2() {
    let output = run_example("vision_assistant", &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("usage: vision_assistant"));
}

#[test]
fn vision_assistant_demo_runs_on_a_generated_checkpoint() {
    let out = stdout_of("vision_assistant", &["--demo"]);
    assert!(out.contains("image "), "{out}");
    assert!(out.contains("(48x32 image/png)"), "{out}");
    assert!(out.contains("tool call: calculator("), "{out}");
    assert!(out.contains("answer: "), "{out}");
}
