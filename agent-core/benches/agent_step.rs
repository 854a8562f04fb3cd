//! The framework's own cost per agent step.
//!
//! A scripted model calls three tools in turn (`add`, `echo`, `now`) for 20 steps, then answers;
//! the agent keeps in-memory memory. The time between consecutive model calls is the loop's
//! overhead for one step: building the request, parsing nothing (calls arrive parsed), validating
//! arguments, dispatching the tool, committing the step and growing the history. The same run
//! with 200 steps shows whether that cost grows with the length of the conversation.
//!
//! Run: `cargo bench -p argus-core --bench agent_step`

#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argus_core::{
    async_trait, tool_fn, Agent, ChatModel, ChatRequest, ChatResponse, InMemoryMemory, ModelError,
    ScriptedModel, ToolCall,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

/// Tool steps per run, runs measured and warm-up runs: both variants make 40,000 model calls.
const VARIANTS: [(usize, usize, usize); 2] = [(20, 2_000, 200), (200, 200, 20)];

#[derive(Deserialize, JsonSchema)]
struct AddArgs {
    /// First addend.
    a: i64,
    /// Second addend.
    b: i64,
}

#[derive(Deserialize, JsonSchema)]
struct EchoArgs {
    /// Text to repeat.
    text: String,
}

#[derive(Deserialize, JsonSchema)]
struct NoArgs {}

/// Records the instant of every model call.
struct Timed {
    inner: ScriptedModel,
    calls: Arc<Mutex<Vec<Instant>>>,
}

#[async_trait]
impl ChatModel for Timed {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        self.calls.lock().unwrap().push(Instant::now());
        self.inner.chat(request).await
    }
}

fn script(steps: usize) -> ScriptedModel {
    let mut model = ScriptedModel::new();
    for step in 0..steps {
        model = match step % 3 {
            0 => model.then_calls(vec![ToolCall::new("add", json!({"a": step, "b": 2}))]),
            1 => model.then_calls(vec![ToolCall::new("echo", json!({"text": "hello"}))]),
            _ => model.then_calls(vec![ToolCall::new("now", json!({}))]),
        };
    }
    model.then_text("done")
}

fn agent(steps: usize, calls: Arc<Mutex<Vec<Instant>>>) -> Agent {
    Agent::builder()
        .model(Timed {
            inner: script(steps),
            calls,
        })
        .system_prompt("You are a benchmark.")
        .tool(tool_fn(
            "add",
            "Adds two integers.",
            |x: AddArgs| async move { Ok::<_, String>(x.a + x.b) },
        ))
        .tool(tool_fn(
            "echo",
            "Repeats the text.",
            |x: EchoArgs| async move { Ok::<_, String>(x.text) },
        ))
        .tool(tool_fn(
            "now",
            "The current time.",
            |_: NoArgs| async move { Ok::<_, String>("2026-11-27T10:00:00Z") },
        ))
        .memory(InMemoryMemory::new())
        .max_steps(steps as u32 + 1)
        .build()
        .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (steps, runs, warmup_runs) in VARIANTS {
        measure(&runtime, steps, runs, warmup_runs);
    }
}

fn measure(runtime: &tokio::runtime::Runtime, steps: usize, runs: usize, warmup_runs: usize) {
    let mut per_step = Vec::with_capacity(runs * steps);
    let mut per_run = Vec::with_capacity(runs);
    for run in 0..warmup_runs + runs {
        let calls = Arc::new(Mutex::new(Vec::with_capacity(steps + 1)));
        let agent = agent(steps, Arc::clone(&calls));
        let started = Instant::now();
        let output = runtime.block_on(agent.run("Go.")).unwrap();
        let elapsed = started.elapsed();
        assert_eq!(output.trace.steps.len(), steps + 1);
        if run < warmup_runs {
            continue;
        }
        let calls = calls.lock().unwrap();
        per_step.extend(calls.windows(2).map(|pair| pair[1] - pair[0]));
        per_run.push(elapsed);
    }
    per_step.sort();
    per_run.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("agent_step: {runs} runs x {steps} tool steps + final answer (scripted model, 3 tools, in-memory memory)");
    println!(
        "per model call: median {:.1} us, p99 {:.1} us, max {:.1} us",
        us(percentile(&per_step, 0.5)),
        us(percentile(&per_step, 0.99)),
        us(*per_step.last().unwrap())
    );
    println!(
        "per run ({} model calls): median {:.1} us, p99 {:.1} us",
        steps + 1,
        us(percentile(&per_run, 0.5)),
        us(percentile(&per_run, 0.99))
    );
}
