//! Per-call overhead of a tool reached over MCP (stdio) against the same tool called natively.
//!
//! The same `calculator` tool (argus-tools) is called through a `ToolRegistry` twice: natively,
//! and as an MCP tool whose server is this benchmark's own binary started again with
//! `serve-stdio` (an `McpToolServer` over stdio). Calls alternate after a warm-up; the table gives
//! median and p99 per call and the difference.
//!
//! `cargo bench -p argus-mcp --bench overhead` (optionally `-- CALLS`, default 2000).

use std::time::{Duration, Instant};

use argus_core::{ToolCall, ToolContext, ToolRegistry};
use argus_mcp::{McpServerConfig, McpToolServer, McpToolset};
use argus_tools::Calculator;
use serde_json::json;

fn calculator() -> ToolRegistry {
    let mut tools = ToolRegistry::new();
    tools.register(Calculator).expect("registers");
    tools
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

async fn time_call(tools: &ToolRegistry) -> Duration {
    let call = ToolCall::new("calculator", json!({"expression": "6 * 7"}));
    let started = Instant::now();
    let execution = tools.call(&call, ToolContext::new("bench")).await;
    let elapsed = started.elapsed();
    assert_eq!(execution.result.expect("the call succeeds").text, "42");
    elapsed
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|arg| arg == "serve-stdio") {
        McpToolServer::new(calculator()).serve_stdio().await?;
        return Ok(());
    }
    // `cargo bench` passes `--bench`; a bare number is the call count.
    let calls: usize = args
        .iter()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(2000);

    let native = calculator();
    let server = McpServerConfig::stdio(
        "bench",
        std::env::current_exe()?.display().to_string(),
        ["serve-stdio"],
    );
    let toolset = McpToolset::connect([server]).await?;
    let mut over_mcp = ToolRegistry::new();
    toolset.register_into(&mut over_mcp);

    for _ in 0..100 {
        time_call(&native).await;
        time_call(&over_mcp).await;
    }
    let mut native_times = Vec::with_capacity(calls);
    let mut mcp_times = Vec::with_capacity(calls);
    for _ in 0..calls {
        native_times.push(time_call(&native).await);
        mcp_times.push(time_call(&over_mcp).await);
    }
    native_times.sort();
    mcp_times.sort();
    println!(
        "calculator(\"6 * 7\"), {calls} calls each, alternating, after 100 warm-up calls each"
    );
    println!("| path | median µs | p99 µs |");
    println!("|---|---|---|");
    for (name, times) in [("native", &native_times), ("MCP over stdio", &mcp_times)] {
        println!(
            "| {name} | {:.1} | {:.1} |",
            micros(percentile(times, 0.5)),
            micros(percentile(times, 0.99))
        );
    }
    println!(
        "overhead per call: median {:.1} µs, p99 {:.1} µs",
        micros(percentile(&mcp_times, 0.5)) - micros(percentile(&native_times, 0.5)),
        micros(percentile(&mcp_times, 0.99)) - micros(percentile(&native_times, 0.99)),
    );
    toolset.close().await;
    Ok(())
}
