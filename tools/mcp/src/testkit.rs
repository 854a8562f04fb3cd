//! The pinned MCP peers the tests run against (feature `testkit`): the reference servers and
//! the MCP Inspector, installed under `tools/mcp/tests/peers` by
//! `npm install --prefix tools/mcp/tests/peers --ignore-scripts --no-save` (`.ci/run` does
//! it). Missing peers fail the test with that command: these tests never skip.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::path::PathBuf;
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject};
use serde_json::Value;

/// The folder holding the peers' `package.json` (and the fault-injection server).
pub fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// An installed peer's executable: `mcp-server-everything`, `mcp-server-filesystem` or
/// `mcp-inspector`. Panics with the install command when it is missing.
pub fn peer_bin(name: &str) -> PathBuf {
    let path = peers_dir().join("node_modules/.bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: install the MCP test peers with `npm install --prefix \
         tools/mcp/tests/peers --ignore-scripts --no-save` (needs Node.js 20+)",
        path.display()
    );
    path
}

/// The Inspector CLI's exit code for a tool result with `isError: true`.
pub const INSPECTOR_TOOL_ERROR: i32 = 5;

/// Runs `mcp-inspector --cli TARGET… ARGS…` (a URL, or a command and its arguments), expecting
/// exit code `exit`; returns its stdout parsed as JSON. Panics, with the Inspector's output,
/// otherwise or after 60 s.
pub async fn inspector(target: &[&str], args: &[&str], exit: i32) -> Value {
    // The Inspector keeps a catalog of servers; a scratch one keeps the home folder clean.
    let catalog = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(peer_bin("mcp-inspector"))
        .arg("--cli")
        .args(target)
        .args(args)
        .env("MCP_CATALOG_PATH", catalog.path().join("mcp.json"))
        .env("RUST_LOG", "error")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("the inspector did not finish")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(exit),
        "inspector {args:?}: {}\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|error| panic!("inspector {args:?}: {error}\nstdout: {stdout}"))
}

/// A `tools/call` request for an rmcp client: `name` with `arguments` (a JSON object).
pub fn call(name: &str, arguments: Value) -> CallToolRequestParams {
    let arguments: JsonObject = serde_json::from_value(arguments).unwrap();
    CallToolRequestParams::new(name.to_string()).with_arguments(arguments)
}

/// The text blocks of a result, joined by newlines.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|text| text.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}
