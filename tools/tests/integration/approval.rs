//! A side-effecting built-in behind the approval hook, through the agent loop.

use std::io::Cursor;

use argus_core::{Agent, ScriptedModel, ToolErrorKind};
use argus_tools::{ReadFile, Sandbox, StdinApproval, WriteFile};
use serde_json::json;

fn agent(sandbox: &Sandbox, answer: &str) -> Agent {
    let model = ScriptedModel::new()
        .then_call("read_file", json!({"path": "notes.txt"}))
        .then_call(
            "write_file",
            json!({"path": "notes.txt", "content": "rewritten"}),
        )
        .then_text("done");
    Agent::builder()
        .model(model)
        .tool(ReadFile::new(sandbox.clone()))
        .tool(WriteFile::new(sandbox.clone()))
        // One answer only: the read-only call must not consume it.
        .approval(StdinApproval::with_io(
            Cursor::new(answer.to_string()),
            Vec::new(),
        ))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_denied_write_reaches_the_model_as_denied() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "original").unwrap();
    let sandbox = Sandbox::new(dir.path()).unwrap();

    let output = agent(&sandbox, "n\n")
        .run("Rewrite my notes.")
        .await
        .unwrap();
    let read = &output.trace.steps[0].tool_results()[0];
    assert_eq!(read.tool_result.as_ref().unwrap().error, None);
    assert_eq!(read.text(), "original");
    let write = &output.trace.steps[1].tool_results()[0];
    assert_eq!(
        write.tool_result.as_ref().unwrap().error,
        Some(ToolErrorKind::Denied)
    );
    assert_eq!(
        write.text(),
        "error (denied): the call was not approved: the user declined"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes.txt")).unwrap(),
        "original"
    );
    assert_eq!(output.answer, "done");
}

#[tokio::test]
async fn an_approved_write_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "original").unwrap();
    let sandbox = Sandbox::new(dir.path()).unwrap();

    let output = agent(&sandbox, "y\n")
        .run("Rewrite my notes.")
        .await
        .unwrap();
    let write = &output.trace.steps[1].tool_results()[0];
    assert_eq!(write.tool_result.as_ref().unwrap().error, None);
    assert_eq!(write.text(), "wrote 9 bytes to notes.txt");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes.txt")).unwrap(),
        "rewritten"
    );
}
