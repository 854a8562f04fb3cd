//! `McpToolServer` against clients nobody here wrote: rmcp's own client over streamable HTTP on
//! a loopback port, and the MCP Inspector's CLI. (The `argus mcp serve` binary over stdio is
//! tested in `examples/tests/mcp_serve.rs`.)

#![allow(missing_docs, clippy::unwrap_used)]

use argus_mcp::testkit::{call, inspector, text, INSPECTOR_TOOL_ERROR};

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use argus_core::{tool, tool_fn_with_context, ImageRef, ToolContext, ToolPolicy, ToolRegistry};
use argus_mcp::{McpToolServer, ServeError};
use base64::Engine as _;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt as _;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(20);

/// Adds two integers.
///
/// # Arguments
/// * `a` - First addend.
/// * `b` - Second addend.
#[tool]
async fn add(a: i64, b: i64) -> Result<i64, String> {
    Ok(a + b)
}

/// Writes a note (side-effecting).
///
/// # Arguments
/// * `text` - The note.
#[tool(side_effecting)]
#[allow(dead_code)] // only `WriteNoteArgs` is used: the test's tool counts its runs
async fn write_note(text: String) -> Result<String, String> {
    Ok(text)
}

/// Takes a one-pixel picture and attaches it.
#[tool]
async fn snapshot(ctx: ToolContext) -> Result<String, String> {
    ctx.attach_image(ImageRef::from_bytes(PNG.to_vec(), "image/png"));
    Ok("one picture".into())
}

/// Waits until cancelled.
#[tool]
#[allow(dead_code)] // only `WaitArgs` is used: the test's tool reports to channels
async fn wait(ctx: ToolContext) -> Result<String, String> {
    ctx.cancellation().cancelled().await;
    Ok("cancelled".into())
}

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// What the test tools report: notes written, and the `wait` tool's start and cancellation.
struct Probes {
    notes: Arc<AtomicUsize>,
    started: mpsc::UnboundedReceiver<()>,
    cancelled: mpsc::UnboundedReceiver<()>,
}

/// `add`, `write_note` (side-effecting, counting its runs), `snapshot` and `wait` (reporting
/// when it starts and when its cancellation token fires, from a task of its own, since the
/// registry drops the tool's future on cancellation).
fn registry() -> (ToolRegistry, Probes) {
    let notes = Arc::new(AtomicUsize::new(0));
    let (started_tx, started) = mpsc::unbounded_channel();
    let (cancelled_tx, cancelled) = mpsc::unbounded_channel();
    let mut tools = ToolRegistry::new();
    let counter = Arc::clone(&notes);
    tools
        .register(Add)
        .unwrap()
        .register(
            tool_fn_with_context(
                "write_note",
                "Writes a note (side-effecting).",
                move |args: WriteNoteArgs, _ctx: ToolContext| {
                    let counter = Arc::clone(&counter);
                    async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, String>(format!("noted: {}", args.text))
                    }
                },
            )
            .with_policy(ToolPolicy::side_effecting()),
        )
        .unwrap()
        .register(Snapshot)
        .unwrap()
        .register(tool_fn_with_context(
            "wait",
            "Waits until cancelled.",
            move |_: WaitArgs, ctx: ToolContext| {
                let started = started_tx.clone();
                let cancelled = cancelled_tx.clone();
                let token = ctx.cancellation().clone();
                tokio::spawn(async move {
                    token.cancelled().await;
                    let _ = cancelled.send(());
                });
                let _ = started.send(());
                async move {
                    std::future::pending::<()>().await;
                    Ok::<_, String>("never")
                }
            },
        ))
        .unwrap();
    (
        tools,
        Probes {
            notes,
            started,
            cancelled,
        },
    )
}

/// The server on a free loopback port, served until the token is cancelled.
async fn serve(server: McpToolServer) -> (String, CancellationToken) {
    let bound = server
        .bind_http("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = bound.url();
    let cancel = CancellationToken::new();
    tokio::spawn(bound.serve(cancel.clone()));
    (url, cancel)
}

async fn connect(url: &str) -> RunningService<RoleClient, ()> {
    ().serve(StreamableHttpClientTransport::from_uri(url.to_string()))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_are_listed_with_schemas_and_read_only_hints() {
    let (tools, _probes) = registry();
    let (url, cancel) = serve(McpToolServer::new(tools)).await;
    let client = connect(&url).await;
    let info = client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "argus");
    assert!(info.capabilities.tools.is_some());

    let listed = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|tool| tool.name.as_ref()).collect();
    assert_eq!(names, ["add", "write_note", "snapshot", "wait"]);
    let add = &listed[0];
    assert_eq!(add.description.as_deref(), Some("Adds two integers."));
    let schema = add.schema_as_json_value();
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["properties"]["a"]["description"], "First addend.");
    assert_eq!(schema["required"], json!(["a", "b"]));
    let hint = |index: usize| {
        listed[index]
            .annotations
            .as_ref()
            .and_then(|hints| hints.read_only_hint)
    };
    assert_eq!(hint(0), Some(true));
    assert_eq!(hint(1), Some(false), "write_note is side-effecting");
    assert_eq!(hint(2), Some(true));

    client.cancel().await.unwrap();
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_returns_the_text_and_attached_images() {
    let (tools, _probes) = registry();
    let (url, cancel) = serve(McpToolServer::new(tools)).await;
    let client = connect(&url).await;

    let result = client
        .call_tool(call("add", json!({"a": 2, "b": 40})))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false));
    assert_eq!(text(&result), "42");

    let result = client.call_tool(call("snapshot", json!({}))).await.unwrap();
    assert_eq!(result.is_error, Some(false));
    assert_eq!(text(&result), "one picture");
    let image = result.content[1].as_image().expect("an image block");
    assert_eq!(image.mime_type, "image/png");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&image.data)
        .unwrap();
    assert_eq!(bytes, PNG);

    client.cancel().await.unwrap();
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_arguments_are_an_error_result_naming_the_field() {
    let (tools, _probes) = registry();
    let (url, cancel) = serve(McpToolServer::new(tools)).await;
    let client = connect(&url).await;

    let result = client
        .call_tool(call("add", json!({"a": "two", "b": 40})))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    let message = text(&result);
    assert!(message.contains("invalid_arguments"), "{message}");
    assert!(message.contains("`/a`"), "{message}");

    let result = client
        .call_tool(call("add", json!({"a": 1})))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    assert!(text(&result).contains('b'), "{}", text(&result));

    // An unknown tool is a protocol error, as the MCP spec has it.
    let error = client
        .call_tool(call("nosuch", json!({})))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("nosuch"), "{error}");

    client.cancel().await.unwrap();
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_side_effecting_tool_runs_only_when_allowed() {
    let (tools, probes) = registry();
    let tools = Arc::new(tools);

    let (url, cancel) = serve(McpToolServer::new(Arc::clone(&tools))).await;
    let client = connect(&url).await;
    let refused = client
        .call_tool(call("write_note", json!({"text": "hi"})))
        .await
        .unwrap();
    assert_eq!(refused.is_error, Some(true));
    assert!(
        text(&refused).contains("--allow write_note"),
        "{}",
        text(&refused)
    );
    assert_eq!(
        probes.notes.load(Ordering::SeqCst),
        0,
        "the tool did not run"
    );
    client.cancel().await.unwrap();
    cancel.cancel();

    let (url, cancel) = serve(McpToolServer::new(tools).allow(["write_note"])).await;
    let client = connect(&url).await;
    let result = client
        .call_tool(call("write_note", json!({"text": "hi"})))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    assert_eq!(text(&result), "noted: hi");
    assert_eq!(probes.notes.load(Ordering::SeqCst), 1);
    client.cancel().await.unwrap();
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_the_request_cancels_the_tool() {
    let (tools, mut probes) = registry();
    let (url, cancel) = serve(McpToolServer::new(tools)).await;
    let client = connect(&url).await;

    // The call is abandoned (its future dropped) once the tool runs: rmcp's client then sends
    // `notifications/cancelled`.
    tokio::select! {
        result = client.call_tool(call("wait", json!({}))) => {
            panic!("the wait tool answered: {result:?}")
        }
        started = tokio::time::timeout(WAIT, probes.started.recv()) => {
            started.expect("the tool did not start").unwrap();
        }
    }
    tokio::time::timeout(WAIT, probes.cancelled.recv())
        .await
        .expect("the tool's cancellation token did not fire")
        .unwrap();

    // The session goes on.
    let result = client
        .call_tool(call("add", json!({"a": 1, "b": 1})))
        .await
        .unwrap();
    assert_eq!(text(&result), "2");
    client.cancel().await.unwrap();
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn serving_refuses_unknown_allowed_tools_and_non_loopback_addresses() {
    let (tools, _probes) = registry();
    let tools = Arc::new(tools);
    let error = McpToolServer::new(Arc::clone(&tools))
        .allow(["nosuch"])
        .serve_http("127.0.0.1:0".parse().unwrap(), CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ServeError::UnknownTool { name, available }
            if name == "nosuch" && available.contains("write_note")),
        "{error}"
    );
    let public: SocketAddr = "0.0.0.0:0".parse().unwrap();
    let error = McpToolServer::new(tools)
        .serve_http(public, CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(error, ServeError::NotLoopback(addr) if addr == public));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_stops_when_cancelled() {
    let (tools, _probes) = registry();
    let bound = McpToolServer::new(tools)
        .bind_http("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = bound.url();
    let cancel = CancellationToken::new();
    let serving = tokio::spawn(bound.serve(cancel.clone()));
    let client = connect(&url).await;
    cancel.cancel();
    tokio::time::timeout(WAIT, serving)
        .await
        .expect("the server did not stop")
        .unwrap()
        .unwrap();
    drop(client);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mcp_inspector_lists_and_calls_the_tools_over_http() {
    let (tools, _probes) = registry();
    let (url, cancel) = serve(McpToolServer::new(tools)).await;

    let listed = inspector(&[&url], &["--method", "tools/list"], 0).await;
    let tools = listed["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 4, "{listed}");
    assert_eq!(tools[0]["name"], "add");
    assert_eq!(
        tools[0]["inputSchema"]["properties"]["b"]["type"],
        "integer"
    );
    assert_eq!(tools[0]["annotations"]["readOnlyHint"], true);
    assert_eq!(tools[1]["annotations"]["readOnlyHint"], false);

    let called = inspector(
        &[&url],
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "add",
            "--tool-arg",
            "a=20",
            "b=22",
        ],
        0,
    )
    .await;
    assert_eq!(called["content"][0]["text"], "42", "{called}");
    assert_ne!(called["isError"], true, "{called}");

    let refused = inspector(
        &[&url],
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "write_note",
            "--tool-arg",
            "text=hi",
        ],
        INSPECTOR_TOOL_ERROR,
    )
    .await;
    assert_eq!(refused["isError"], true, "{refused}");
    assert!(refused["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("--allow write_note"));
    cancel.cancel();
}
