//! argus-mcp's client against real MCP servers: the reference servers from npm (stdio and
//! streamable HTTP) and, for faults no real server shows, a fault-injection server written on
//! the official TypeScript SDK (`tests/peers/fault_server.mjs`).
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::time::{Duration, Instant};

use argus_core::{
    Agent, AgentError, RunTrace, ScriptedModel, ToolCall, ToolContext, ToolEffect, ToolErrorKind,
    ToolRegistry,
};
use argus_mcp::testkit::{peer_bin, peers_dir};
use argus_mcp::{McpClient, McpError, McpServerConfig, McpToolset};
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn everything(name: &str) -> McpServerConfig {
    McpServerConfig::stdio(
        name,
        "node",
        [peer_bin("mcp-server-everything").display().to_string()],
    )
}

fn fault_server() -> McpServerConfig {
    McpServerConfig::stdio(
        "faulty",
        "node",
        [peers_dir().join("fault_server.mjs").display().to_string()],
    )
}

/// The results of step `index`: text and failure kind.
fn results(trace: &RunTrace, index: usize) -> Vec<(String, Option<ToolErrorKind>)> {
    trace.steps[index]
        .tool_results()
        .iter()
        .map(|m| (m.text(), m.tool_result.as_ref().and_then(|i| i.error)))
        .collect()
}

async fn call(
    registry: &ToolRegistry,
    name: &str,
    args: serde_json::Value,
) -> argus_core::ToolExecution {
    registry
        .call(&ToolCall::new(name, args), ToolContext::new("c1"))
        .await
}

#[tokio::test]
async fn an_agent_calls_the_reference_servers_tools_over_stdio() -> anyhow::Result<()> {
    let toolset = McpToolset::connect([everything("everything")]).await?;
    let mut tools = ToolRegistry::new();
    assert!(toolset.register_into(&mut tools).is_empty());
    for name in ["echo", "get-sum", "get-tiny-image"] {
        let tool = tools.get(name).unwrap();
        // The server marks these read-only, so no approval is asked.
        assert_eq!(tool.policy().effect, ToolEffect::ReadOnly, "{name}");
    }
    assert_eq!(
        tools.get("gzip-file-as-resource").unwrap().policy().effect,
        ToolEffect::SideEffecting
    );

    let model = ScriptedModel::new()
        .then_call("echo", json!({"message": "hi there"}))
        .then_call("get-sum", json!({"a": 2, "b": 40}))
        .then_call("get-sum", json!({"a": "two"}))
        .then_call("get-tiny-image", json!({}))
        .then_text("done");
    let agent = Agent::builder().model(model).tools(tools).build()?;
    let output = agent.run("go").await?;

    assert_eq!(output.answer, "done");
    assert_eq!(results(&output.trace, 0), [("Echo: hi there".into(), None)]);
    assert!(results(&output.trace, 1)[0].0.contains("42"));
    // Arguments are checked against the server's schema before anything is sent.
    let (text, kind) = &results(&output.trace, 2)[0];
    assert_eq!(*kind, Some(ToolErrorKind::InvalidArguments), "{text}");
    // The image comes into the conversation, through the ingestion limits.
    let image_step = &output.trace.steps[3];
    let images: Vec<_> = image_step.tool_results()[0].images().cloned().collect();
    assert_eq!(images.len(), 1);
    assert!(image_step.tool_results()[0]
        .text()
        .contains(&images[0].sha256));
    toolset.close().await;
    Ok(())
}

/// A free loopback port (a tiny race with other processes is acceptable in tests).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_reference_server_over_streamable_http() -> anyhow::Result<()> {
    let port = free_port();
    let _server = KillOnDrop(
        std::process::Command::new("node")
            .arg(peer_bin("mcp-server-everything"))
            .arg("streamableHttp")
            .env("PORT", port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?,
    );
    let url = format!("http://127.0.0.1:{port}/mcp");
    let started = Instant::now();
    let client = loop {
        match McpClient::connect(McpServerConfig::http("web", &url)).await {
            Ok(client) => break client,
            Err(error) if started.elapsed() < Duration::from_secs(20) => {
                let _ = error;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => return Err(error.into()),
        }
    };
    let mut tools = ToolRegistry::new();
    McpToolset::from_clients(vec![client.clone()]).register_into(&mut tools);
    let model = ScriptedModel::new()
        .then_call("get-sum", json!({"a": 1.5, "b": 2}))
        .then_call("get-tiny-image", json!({}))
        .then_text("3.5");
    let agent = Agent::builder().model(model).tools(tools).build()?;
    let output = agent.run("add them").await?;
    assert!(results(&output.trace, 0)[0].0.contains("3.5"));
    assert_eq!(output.trace.steps[1].tool_results()[0].images().count(), 1);
    client.close().await;
    Ok(())
}

#[tokio::test]
async fn cancelling_a_run_stops_the_reference_servers_long_running_operation() -> anyhow::Result<()>
{
    let toolset = McpToolset::connect([everything("everything")]).await?;
    let mut tools = ToolRegistry::new();
    toolset.register_into(&mut tools);
    let model = ScriptedModel::new()
        .then_call(
            "trigger-long-running-operation",
            json!({"duration": 60, "steps": 60}),
        )
        .then_text("never");
    let agent = Agent::builder().model(model).tools(tools).build()?;
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let error = agent
        .run_cancellable("wait a minute", cancel)
        .await
        .unwrap_err();
    assert!(matches!(error, AgentError::Cancelled { .. }), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    // The server was told and serves the next call at once.
    let execution = call(agent.tools(), "echo", json!({"message": "still here"})).await;
    assert_eq!(execution.result.unwrap().text, "Echo: still here");
    toolset.close().await;
    Ok(())
}

#[tokio::test]
async fn fault_injection_a_call_that_never_answers_times_out_and_the_next_reconnects(
) -> anyhow::Result<()> {
    let client =
        McpClient::connect(fault_server().with_call_timeout(Duration::from_secs(1))).await?;
    let failure = client
        .call("wait", json!({}), ToolContext::new("c"))
        .await
        .unwrap_err();
    assert_eq!(failure.kind, ToolErrorKind::Timeout);
    assert!(
        failure.message.contains("reconnects"),
        "{}",
        failure.message
    );
    assert_eq!(
        client
            .call("hello", json!({}), ToolContext::new("d"))
            .await
            .unwrap(),
        json!("hello")
    );
    client.close().await;
    Ok(())
}

#[tokio::test]
async fn two_servers_with_the_same_tools_are_told_apart_by_prefix() -> anyhow::Result<()> {
    let toolset = McpToolset::connect([everything("a"), everything("b")]).await?;
    let mut tools = ToolRegistry::new();
    toolset.register_into(&mut tools);
    assert!(tools.get("echo").is_none());
    let execution = call(&tools, "b_echo", json!({"message": "from b"})).await;
    assert_eq!(execution.result.unwrap().text, "Echo: from b");
    assert!(matches!(
        McpToolset::connect([everything("a"), everything("a")]).await,
        Err(McpError::DuplicateServer(_))
    ));
    toolset.close().await;
    Ok(())
}

#[tokio::test]
async fn a_long_running_tool_is_cancelled_on_the_server_when_the_run_is() -> anyhow::Result<()> {
    let marker = tempfile::tempdir()?;
    let marker = marker.path().join("cancelled");
    let client =
        McpClient::connect(fault_server().with_env("FAULT_MARKER", marker.display().to_string()))
            .await?;
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let failure = client
        .call(
            "wait",
            json!({}),
            ToolContext::new("c").with_cancellation(cancel),
        )
        .await
        .unwrap_err();
    assert_eq!(failure.kind, ToolErrorKind::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(10));
    // The server heard `notifications/cancelled` and aborted its handler.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !marker.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(std::fs::read_to_string(&marker)?, "cancelled");
    // And the connection serves the next call.
    assert_eq!(
        client
            .call("hello", json!({}), ToolContext::new("d"))
            .await
            .unwrap(),
        json!("hello")
    );
    client.close().await;
    Ok(())
}

#[tokio::test]
async fn the_filesystem_server_refuses_paths_outside_its_root() -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    std::fs::write(root.path().join("note.txt"), "inside the root")?;
    let root_path = root.path().canonicalize()?;
    let config = McpServerConfig::stdio(
        "files",
        "node",
        [
            peer_bin("mcp-server-filesystem").display().to_string(),
            root_path.display().to_string(),
        ],
    );
    let toolset = McpToolset::connect([config]).await?;
    let mut tools = ToolRegistry::new();
    toolset.register_into(&mut tools);
    assert_eq!(
        tools.get("write_file").unwrap().policy().effect,
        ToolEffect::SideEffecting
    );
    assert_eq!(
        tools.get("read_text_file").unwrap().policy().effect,
        ToolEffect::ReadOnly
    );

    let inside = call(
        &tools,
        "read_text_file",
        json!({"path": root_path.join("note.txt")}),
    )
    .await;
    assert_eq!(inside.result.unwrap().text, "inside the root");
    let outside = call(&tools, "read_text_file", json!({"path": "/etc/hostname"})).await;
    let failure = outside.result.unwrap_err();
    assert_eq!(failure.kind, ToolErrorKind::Failed);
    assert!(
        failure.message.contains("outside allowed directories"),
        "{}",
        failure.message
    );
    toolset.close().await;
    Ok(())
}

#[tokio::test]
async fn fault_injection_bad_schemas_are_left_out_with_the_reason() -> anyhow::Result<()> {
    let toolset = McpToolset::connect([fault_server()]).await?;
    let mut tools = ToolRegistry::new();
    let skipped = toolset.register_into(&mut tools);
    let mut names: Vec<_> = skipped.iter().map(|s| s.tool.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["bad_pattern", "bad_schema"]);
    assert!(skipped.iter().all(|s| s.server == "faulty"));
    assert!(tools.get("hello").is_some());
    toolset.close().await;
    Ok(())
}

#[tokio::test]
async fn fault_injection_a_crash_is_a_tool_failure_and_the_next_call_reconnects(
) -> anyhow::Result<()> {
    let client = McpClient::connect(fault_server()).await?;
    let failure = client
        .call("crash", json!({}), ToolContext::new("c"))
        .await
        .unwrap_err();
    assert_eq!(failure.kind, ToolErrorKind::Failed);
    assert!(failure.message.contains("faulty"), "{}", failure.message);
    assert_eq!(
        client
            .call("hello", json!({}), ToolContext::new("d"))
            .await
            .unwrap(),
        json!("hello")
    );
    client.close().await;
    Ok(())
}

#[tokio::test]
async fn fault_injection_a_50_mb_result_is_refused_and_the_server_serves_again(
) -> anyhow::Result<()> {
    let client =
        McpClient::connect(fault_server().with_call_timeout(Duration::from_secs(5))).await?;
    // Over stdio, rmcp drops any message over 16 MiB unread; the call ends at its timeout.
    let failure = client
        .call("huge", json!({}), ToolContext::new("c"))
        .await
        .unwrap_err();
    assert_eq!(failure.kind, ToolErrorKind::Timeout, "{}", failure.message);
    assert_eq!(
        client
            .call("hello", json!({}), ToolContext::new("d"))
            .await
            .unwrap(),
        json!("hello")
    );
    client.close().await;
    Ok(())
}

#[tokio::test]
async fn fault_injection_links_are_named_never_followed() -> anyhow::Result<()> {
    let client = McpClient::connect(fault_server()).await?;
    let output = client
        .call("link", json!({}), ToolContext::new("c"))
        .await
        .unwrap();
    assert_eq!(output, json!("[resource link file:///etc/passwd]"));
    client.close().await;
    Ok(())
}

#[tokio::test]
async fn fault_injection_a_changed_tool_list_is_noticed_and_listed_again() -> anyhow::Result<()> {
    let client = McpClient::connect(fault_server()).await?;
    assert!(!client.tool_infos().iter().any(|tool| tool.name == "grown"));
    client
        .call("grow", json!({}), ToolContext::new("c"))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !client.tools_changed() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(client.tools_changed());
    client.refresh_tools().await?;
    assert!(!client.tools_changed());
    let mut tools = ToolRegistry::new();
    McpToolset::from_clients(vec![client.clone()]).register_into(&mut tools);
    assert_eq!(
        call(&tools, "grown", json!({})).await.result.unwrap().text,
        "hello from the new tool"
    );
    client.close().await;
    Ok(())
}

#[tokio::test]
async fn fault_injection_servers_that_never_speak_mcp_are_typed_errors() {
    let quick = |config: McpServerConfig| config.with_connect_timeout(Duration::from_secs(3));
    let exits = McpClient::connect(quick(McpServerConfig::stdio(
        "exits",
        "sh",
        ["-c", "exit 3"],
    )))
    .await;
    assert!(
        matches!(exits, Err(McpError::Handshake { .. })),
        "{exits:?}"
    );
    let garbage = McpClient::connect(quick(McpServerConfig::stdio(
        "garbage",
        "sh",
        [
            "-c",
            "while true; do echo 'not json at all'; sleep 0.05; done",
        ],
    )))
    .await;
    assert!(
        matches!(
            garbage,
            Err(McpError::Handshake { .. } | McpError::Timeout { .. })
        ),
        "{garbage:?}"
    );
    let silent = McpClient::connect(quick(McpServerConfig::stdio("silent", "sleep", ["60"]))).await;
    assert!(
        matches!(silent, Err(McpError::Timeout { .. })),
        "{silent:?}"
    );
    let missing = McpClient::connect(quick(McpServerConfig::stdio(
        "missing",
        "/nonexistent/server",
        Vec::<String>::new(),
    )))
    .await;
    assert!(
        matches!(missing, Err(McpError::Spawn { .. })),
        "{missing:?}"
    );
    let refused = McpClient::connect(quick(McpServerConfig::http(
        "down",
        format!(
            "http://argus:hunter2@127.0.0.1:{}/mcp?token=s3cret",
            free_port()
        ),
    )))
    .await;
    assert!(
        matches!(refused, Err(McpError::Handshake { .. })),
        "{refused:?}"
    );
    let message = refused.unwrap_err().to_string();
    assert!(message.contains("http://127.0.0.1:"), "{message}");
    assert!(
        !message.contains("hunter2") && !message.contains("s3cret"),
        "{message}"
    );
}
