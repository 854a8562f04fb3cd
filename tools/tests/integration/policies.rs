//! Policies of the built-in tools, and output caps through the registry.

use std::time::Duration;

use argus_core::{ToolCall, ToolEffect};
use argus_tools::{
    tool_fn, Calculator, Clock, HttpFetch, ImageTool, ListFiles, ReadFile, Recall, Sandbox,
    ToolContext, ToolPolicy, ToolRegistry, WriteFile,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

#[test]
fn built_ins_declare_their_effects_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::new(dir.path()).unwrap();
    let mut tools = ToolRegistry::new();
    tools
        .register(Calculator)
        .unwrap()
        .register(Clock::new())
        .unwrap()
        .register(HttpFetch::new())
        .unwrap()
        .register(ReadFile::new(sandbox.clone()))
        .unwrap()
        .register(ListFiles::new(sandbox.clone()))
        .unwrap()
        .register(WriteFile::new(sandbox.clone()))
        .unwrap()
        .register(ImageTool::new().with_sandbox(sandbox))
        .unwrap()
        .register(Recall::new(std::sync::Arc::new(
            argus_core::InMemoryMemory::new(),
        )))
        .unwrap();
    let side_effecting: Vec<&str> = tools
        .specs()
        .iter()
        .filter(|spec| tools.get(&spec.name).unwrap().policy().effect == ToolEffect::SideEffecting)
        .map(|spec| spec.name.as_str())
        .collect();
    assert_eq!(side_effecting, ["write_file"]);
    for spec in tools.specs() {
        let policy = tools.get(&spec.name).unwrap().policy();
        let timeout = policy.timeout.unwrap();
        assert!(
            timeout <= Duration::from_secs(60),
            "{}: {timeout:?}",
            spec.name
        );
        assert!(!spec.description.is_empty());
        assert_eq!(spec.parameters["type"], "object", "{}", spec.name);
    }
    let names: Vec<&str> = tools.specs().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "calculator",
            "clock",
            "http_fetch",
            "read_file",
            "list_files",
            "write_file",
            "image",
            "recall"
        ]
    );
}

#[derive(Deserialize, JsonSchema)]
struct Count {
    /// How many characters.
    n: usize,
}

#[tokio::test]
async fn oversized_output_is_cut_by_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..100 {
        std::fs::write(
            dir.path().join(format!("file-with-a-long-name-{i:03}.txt")),
            "x",
        )
        .unwrap();
    }
    let mut tools = ToolRegistry::new().with_max_output_bytes(1_000);
    tools
        .register(ListFiles::new(Sandbox::new(dir.path()).unwrap()))
        .unwrap()
        .register(
            tool_fn("repeat", "Repeats a letter.", |args: Count| async move {
                Ok::<_, String>("a".repeat(args.n))
            })
            .with_policy(ToolPolicy::read_only().with_max_output_bytes(10)),
        )
        .unwrap();

    let listing = tools
        .call(
            &ToolCall::new("list_files", json!({})),
            ToolContext::new("c"),
        )
        .await
        .result
        .unwrap();
    assert!(listing.truncated);
    assert!(
        // Key order depends on serde_json's `preserve_order` feature (on in a full workspace build).
        listing.text.starts_with('{') && listing.text.contains("\"entries\":[{"),
        "{}",
        listing.text
    );
    assert!(
        listing
            .text
            .contains("\n[output truncated: showing 1000 of "),
        "{}",
        listing.text
    );

    let repeated = tools
        .call(
            &ToolCall::new("repeat", json!({"n": 1_000_000})),
            ToolContext::new("c"),
        )
        .await
        .result
        .unwrap();
    assert_eq!(
        repeated.text,
        "aaaaaaaaaa\n[output truncated: showing 10 of 1000000 bytes]"
    );
}
