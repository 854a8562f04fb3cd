//! Streaming a run into a custom UI loop: `Agent::run_stream` yields events as they happen —
//! text deltas, tool calls starting and finishing, a summary per step — and ends with the
//! final answer or the error. The model is scripted (it streams its text word by word), so no
//! weights are needed.
//!
//! ```text
//! cargo run -p argus-examples --example streaming_ui
//! ```

use std::io::Write as _;

use argus_core::{Agent, AgentEvent, ScriptedModel};
use argus_tools::{Calculator, Clock};
use futures::StreamExt as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `then_raw` parses raw model output like a real model's: text, then a Llama 3.1 JSON call.
    let model = ScriptedModel::new()
        .then_raw(
            "Let me work that out. <|python_tag|>\
             {\"name\": \"calculator\", \"parameters\": {\"expression\": \"3 * 14.5 + 2 * 4.25\"}}",
        )
        .then_raw("Checking the date too. {\"name\": \"clock\", \"parameters\": {}}")
        .then_text("Three notebooks and two pens cost 52 in total; prices as of today.");
    let agent = Agent::builder()
        .model(model)
        .tool(Calculator)
        .tool(Clock::new())
        .build()?;

    let mut events = agent.run_stream("What do 3 notebooks at 14.50 and 2 pens at 4.25 cost?");
    let mut stdout = std::io::stdout();
    let mut mid_line = false; // streamed text has no newline of its own
    while let Some(event) = events.next().await {
        match event {
            AgentEvent::TextDelta { text, .. } => {
                print!("{text}"); // as the tokens arrive
                stdout.flush()?;
                mid_line = true;
            }
            AgentEvent::ToolCallStarted { call, .. } => {
                if std::mem::take(&mut mid_line) {
                    println!();
                }
                println!("  ⚙ {}({}) …", call.name, call.arguments);
            }
            AgentEvent::ToolCallFinished { result, .. } => {
                let failed = result
                    .tool_result
                    .as_ref()
                    .is_some_and(|r| r.error.is_some());
                println!("  {} {}", if failed { "✗" } else { "✓" }, result.text());
            }
            AgentEvent::StepFinished { step } => {
                if std::mem::take(&mut mid_line) {
                    println!();
                }
                println!(
                    "  └ step {}: {} tool call(s), {:?}, {} µs",
                    step.index,
                    step.assistant().tool_calls.len(),
                    step.finish_reason,
                    step.duration_us
                );
            }
            AgentEvent::Final { output } => {
                println!(
                    "\nfinal answer after {} steps: {}",
                    output.trace.steps.len(),
                    output.answer
                );
            }
            AgentEvent::Error { error } => anyhow::bail!("the run failed: {error}"),
            _ => {} // `AgentEvent` is non-exhaustive: new kinds of events may appear
        }
    }
    Ok(())
}
