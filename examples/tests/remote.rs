//! `argus` against a model on an OpenAI-compatible server: mistral.rs's own server, started in
//! this test process on 127.0.0.1 and serving the tiny mllama.

#![allow(missing_docs, clippy::unwrap_used)]

#[allow(dead_code)]
mod support;

use argus_vision::testkit::{write_mllama, MllamaSpec, ServedModel, TestServer};
use serde_json::Value;
use support::argus_in;

/// A runtime whose worker threads serve while the test thread runs `argus`.
fn serve(dir: &std::path::Path) -> (tokio::runtime::Runtime, TestServer) {
    let model = dir.join("served");
    write_mllama(&model, &MllamaSpec::default()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(TestServer::start(ServedModel::Multimodal(model)))
        .unwrap();
    (runtime, server)
}

#[test]
fn run_calls_a_tool_through_a_remote_model() {
    let work = tempfile::tempdir().unwrap();
    let (_runtime, server) = serve(work.path());
    let output = argus_in(
        work.path(),
        &[
            "run",
            "--api-base",
            server.base_url(),
            "--model",
            "default",
            // mistralrs-server returns Llama calls as text; the forced call is constrained by
            // `response_format`, so the random-weight model writes a valid one.
            "--tool-calls",
            "text",
            "--tool-choice",
            "required",
            "--max-tokens",
            "1024",
            "--max-steps",
            "2",
            "--workspace",
            work.path().to_str().unwrap(),
            "--json",
            "What is 2 + 2?",
        ],
        "",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The random-weight model may never stop calling tools: the step limit is a normal end.
    let trace: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: exit {:?}, stderr {stderr}, stdout {stdout}",
            output.status
        )
    });
    let first = &trace["trace"]["steps"][0];
    let call = &first["assistant"]["tool_calls"][0];
    assert!(call["name"].is_string(), "{first}");
    assert_eq!(
        first["tool_results"][0]["tool_result"]["call_id"],
        call["id"]
    );
    assert!(first["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_server_that_is_not_there_is_one_line_and_exit_1() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://user:hunter2@{}/v1", listener.local_addr().unwrap());
    drop(listener);
    let work = tempfile::tempdir().unwrap();
    let output = argus_in(
        work.path(),
        &[
            "run",
            "--api-base",
            &base,
            "--model",
            "m",
            "--no-tools",
            "hi",
        ],
        "",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot connect to http://127.0.0.1:"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn api_base_without_a_model_name_is_a_usage_error() {
    let work = tempfile::tempdir().unwrap();
    let output = argus_in(
        work.path(),
        &["run", "--api-base", "http://127.0.0.1:1/v1", "hi"],
        "",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--api-base needs --model NAME"), "{stderr}");
}

#[test]
fn flags_for_models_in_this_process_are_refused_with_a_server() {
    let work = tempfile::tempdir().unwrap();
    for flags in [&["--raw"][..], &["--device", "cpu"], &["--isq", "q8_0"]] {
        let mut args = vec!["run", "--api-base", "http://127.0.0.1:1/v1", "--model", "m"];
        args.extend_from_slice(flags);
        args.push("hi");
        let output = argus_in(work.path(), &args, "");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
    }
}
