//! `argus mcp serve`, the real binary, against clients nobody here wrote: rmcp's client over
//! stdio and streamable HTTP, and the MCP Inspector's CLI (pinned in
//! `tools/mcp/tests/peers`; these tests fail, not skip, when Node.js or the peers are missing).

#![allow(missing_docs, clippy::unwrap_used)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use argus_mcp::testkit::{call, inspector, text, INSPECTOR_TOOL_ERROR};
use rmcp::model::Tool;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::{ConfigureCommandExt as _, StreamableHttpClientTransport, TokioChildProcess};
use rmcp::ServiceExt as _;
use serde_json::json;
use tokio::io::AsyncBufReadExt as _;

const WAIT: Duration = Duration::from_secs(60);

/// The built-in tools, in the order they are served.
const BUILT_IN: [&str; 7] = [
    "calculator",
    "clock",
    "http_fetch",
    "read_file",
    "list_files",
    "write_file",
    "image",
];

/// `argus mcp serve ARGS` as a command, logging errors only.
fn argus_mcp_serve(args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_argus"));
    command
        .args(["mcp", "serve"])
        .args(args)
        .env("RUST_LOG", "error")
        .kill_on_drop(true);
    command
}

/// An rmcp client of `argus mcp serve --workspace WORKSPACE ARGS` over stdio.
async fn stdio_client(workspace: &Path, args: &[&str]) -> RunningService<RoleClient, ()> {
    let command = argus_mcp_serve(args).configure(|command| {
        command.arg("--workspace").arg(workspace);
    });
    let transport = TokioChildProcess::new(command).unwrap();
    tokio::time::timeout(WAIT, ().serve(transport))
        .await
        .expect("no handshake")
        .unwrap()
}

fn read_only_hint(tool: &Tool) -> Option<bool> {
    tool.annotations.as_ref()?.read_only_hint
}

#[tokio::test(flavor = "multi_thread")]
async fn stdio_lists_and_calls_the_built_in_tools() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("notes.txt"), "buy milk").unwrap();
    let client = stdio_client(work.path(), &[]).await;
    assert_eq!(
        client
            .peer_info()
            .unwrap()
            .server_info
            .as_ref()
            .unwrap()
            .name,
        "argus"
    );

    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    assert_eq!(names, BUILT_IN);
    let calculator = &tools[0];
    assert!(calculator
        .description
        .as_ref()
        .unwrap()
        .contains("arithmetic"));
    let schema = calculator.schema_as_json_value();
    assert_eq!(schema["properties"]["expression"]["type"], "string");
    assert_eq!(schema["required"], json!(["expression"]));
    for tool in &tools {
        let expected = tool.name != "write_file";
        assert_eq!(read_only_hint(tool), Some(expected), "{}", tool.name);
    }

    let result = client
        .call_tool(call("calculator", json!({"expression": "6 * 7"})))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    assert_eq!(text(&result), "42");

    let result = client
        .call_tool(call("read_file", json!({"path": "notes.txt"})))
        .await
        .unwrap();
    assert_eq!(text(&result), "buy milk");

    // The sandbox holds: a path out of the workspace is an error result, not a read.
    let result = client
        .call_tool(call("read_file", json!({"path": "../outside.txt"})))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true), "{}", text(&result));

    let result = client
        .call_tool(call("calculator", json!({"expr": "1"})))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    let message = text(&result);
    assert!(message.contains("invalid_arguments"), "{message}");
    assert!(message.contains("expr"), "{message}");

    // Side effects need `--allow`.
    let result = client
        .call_tool(call(
            "write_file",
            json!({"path": "out.txt", "content": "hi"}),
        ))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    assert!(
        text(&result).contains("--allow write_file"),
        "{}",
        text(&result)
    );
    assert!(!work.path().join("out.txt").exists());

    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_allowed_side_effecting_tool_runs() {
    let work = tempfile::tempdir().unwrap();
    let client = stdio_client(work.path(), &["--allow", "write_file"]).await;
    let result = client
        .call_tool(call(
            "write_file",
            json!({"path": "out/note.txt", "content": "hi"}),
        ))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    assert_eq!(
        std::fs::read_to_string(work.path().join("out/note.txt")).unwrap(),
        "hi"
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn command_line_mistakes_are_usage_errors() {
    for (args, expected) in [
        (&["--allow", "nosuch"][..], "no tool named `nosuch`"),
        (&["--http", "0.0.0.0:8808"][..], "not a loopback address"),
    ] {
        let output = argus_mcp_serve(args)
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

/// `argus mcp serve --http 127.0.0.1:0`, and the URL it prints on stderr.
async fn serve_http(workspace: &Path) -> (tokio::process::Child, String) {
    let mut child = argus_mcp_serve(&["--http", "127.0.0.1:0"])
        .arg("--workspace")
        .arg(workspace)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let url = tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.strip_prefix("argus: serving MCP at ") {
                return rest.split_whitespace().next().unwrap().to_string();
            }
        }
        panic!("argus exited without serving");
    })
    .await
    .expect("argus did not say where it serves");
    // Keep reading stderr so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

#[tokio::test(flavor = "multi_thread")]
async fn http_serves_rmcp_and_the_inspector_until_interrupted() {
    let work = tempfile::tempdir().unwrap();
    let (mut child, url) = serve_http(work.path()).await;
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"),
        "{url}"
    );

    let client = ().serve(StreamableHttpClientTransport::from_uri(url.clone())).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), BUILT_IN.len());
    let result = client
        .call_tool(call("calculator", json!({"expression": "2 ^ 10"})))
        .await
        .unwrap();
    assert_eq!(text(&result), "1024");
    client.cancel().await.unwrap();

    let listed = inspector(&[&url], &["--method", "tools/list"], 0).await;
    assert_eq!(listed["tools"].as_array().unwrap().len(), BUILT_IN.len());

    // Ctrl-C stops the server cleanly.
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("argus did not stop on SIGINT")
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mcp_inspector_lists_and_calls_the_tools_over_stdio() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("notes.txt"), "buy milk").unwrap();
    let workspace = work.path().to_str().unwrap();
    let argus = env!("CARGO_BIN_EXE_argus");
    let server = [argus, "mcp", "serve", "--workspace", workspace];

    // `--strict` fails (exit 6) on any schema the Inspector finds unportable.
    let listed = inspector(&server, &["--method", "tools/list", "--strict"], 0).await;
    let tools = listed["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, BUILT_IN);
    assert_eq!(tools[3]["annotations"]["readOnlyHint"], true, "read_file");
    assert_eq!(tools[5]["annotations"]["readOnlyHint"], false, "write_file");
    assert_eq!(
        tools[3]["inputSchema"]["properties"]["path"]["type"],
        "string"
    );

    let called = inspector(
        &server,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "read_file",
            "--tool-arg",
            "path=notes.txt",
        ],
        0,
    )
    .await;
    assert_eq!(called["content"][0]["text"], "buy milk", "{called}");

    let refused = inspector(
        &server,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "write_file",
            "--tool-arg",
            "path=out.txt",
            "content=hi",
        ],
        INSPECTOR_TOOL_ERROR,
    )
    .await;
    assert_eq!(refused["isError"], true, "{refused}");
    assert!(!work.path().join("out.txt").exists());

    let allowed = [&server[..], &["--allow", "write_file"]].concat();
    let wrote = inspector(
        &allowed,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "write_file",
            "--tool-arg",
            "path=out.txt",
            "content=hi",
        ],
        0,
    )
    .await;
    assert_ne!(wrote["isError"], true, "{wrote}");
    assert_eq!(
        std::fs::read_to_string(work.path().join("out.txt")).unwrap(),
        "hi"
    );
}
