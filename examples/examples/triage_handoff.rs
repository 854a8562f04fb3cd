//! A handoff: a "triage" agent reads the user's question and transfers the conversation to a
//! "billing" specialist, which continues the same run and memory session with its own system
//! prompt and tools (and may hand back). The next run starts at triage again and sees
//! everything billing said.
//!
//! ```text
//! cargo run -p argus-examples --example triage_handoff -- --demo
//! cargo run -p argus-examples --example triage_handoff -- --model models/Llama-3.2-3B-Instruct "Was invoice INV-7 paid?"
//! cargo run -p argus-examples --example triage_handoff -- --api-base http://localhost:8000/v1 --model meta-llama/Llama-3.1-8B-Instruct
//! ```
//!
//! `--demo` runs offline on scripted models and prints each step with the agent that took it,
//! the handoff, and what the specialist was offered. With a real model, one model serves both
//! agents; an optional last argument replaces the question.

mod real_model;

use std::fmt::Write as _;
use std::sync::Arc;

use argus_core::{tool_fn, Agent, AgentEvent, ChatModel, InMemoryMemory, RunLog, RunOutput};
use argus_core::{ScriptedModel, SessionStore as _, ToolCall};
use futures::StreamExt as _;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use real_model::RealArgs;

const USAGE: &str = "usage: triage_handoff --demo
       triage_handoff --model MODEL_DIR|FILE.gguf [QUESTION]
       triage_handoff --api-base URL --model NAME [QUESTION]";

const QUESTION: &str = "Was invoice INV-7 paid?";

#[derive(Deserialize, JsonSchema)]
struct InvoiceArgs {
    /// The invoice number, e.g. `INV-7`.
    invoice: String,
}

#[derive(Deserialize, JsonSchema)]
struct NoArgs {}

/// Triage, which hands billing questions to a billing specialist that can hand back; the
/// conversation is kept in `memory`, session `support`.
fn triage(
    triage_model: Arc<dyn ChatModel>,
    billing_model: Arc<dyn ChatModel>,
    memory: Arc<dyn RunLog>,
) -> anyhow::Result<Agent> {
    let triage_prompt = "You are the front desk of a shop. Answer general questions yourself; \
                         transfer questions about invoices, payments or refunds to billing.";
    let opening_hours = || {
        tool_fn(
            "opening_hours",
            "The shop's opening hours.",
            |_: NoArgs| async move { Ok::<_, String>("Monday to Friday, 9:00 to 17:00") },
        )
    };
    // Handoff targets are built agents: the way back is a triage agent built first.
    let back = Agent::builder()
        .name("triage")
        .shared_model(triage_model.clone())
        .system_prompt(triage_prompt)
        .tool(opening_hours())
        .build()?;
    let billing = Agent::builder()
        .name("billing")
        .shared_model(billing_model)
        .system_prompt(
            "You are the billing specialist. Look invoices up with invoice_status and answer \
             from what it returns; transfer anything else back to triage.",
        )
        .tool(tool_fn(
            "invoice_status",
            "Looks up whether an invoice was paid.",
            |args: InvoiceArgs| async move {
                match args.invoice.as_str() {
                    "INV-7" => {
                        Ok(json!({"invoice": "INV-7", "status": "paid", "paid_on": "2026-11-02"}))
                    }
                    other => Err(format!(
                        "no invoice `{other}`: invoice numbers look like INV-7"
                    )),
                }
            },
        ))
        .handoff(
            back,
            "for anything that is not about invoices, payments or refunds.",
        )
        .build()?;
    let agent = Agent::builder()
        .name("triage")
        .shared_model(triage_model)
        .system_prompt(triage_prompt)
        .tool(opening_hours())
        .handoff(
            billing,
            "for questions about invoices, payments or refunds.",
        )
        .shared_memory(memory)
        .session("support")
        .max_tokens(256)
        .max_steps(8)
        .build()?;
    Ok(agent)
}

/// Runs `agent` on `question`, writing each tool call with the agent that made it, each
/// handoff, and the answer.
async fn run(agent: &Agent, question: &str, out: &mut String) -> anyhow::Result<RunOutput> {
    let _ = writeln!(out, "user: {question}");
    let mut current = agent.name().unwrap_or("?").to_string();
    let mut events = agent.run_stream(question);
    while let Some(event) = events.next().await {
        match event {
            AgentEvent::StepFinished { step } => {
                for (call, result) in step.assistant().tool_calls.iter().zip(step.tool_results()) {
                    let _ = writeln!(
                        out,
                        "{current} -> {}({}) -> {}",
                        call.name,
                        call.arguments,
                        result.text()
                    );
                }
            }
            AgentEvent::Handoff { step, from, to } => {
                let from = from.as_deref().unwrap_or("?");
                let _ = writeln!(out, "handoff: {from} -> {to} (step {step})");
                current = to;
            }
            AgentEvent::Final { output } => {
                let by = output.agent.as_deref().unwrap_or("?");
                let _ = writeln!(out, "answer ({by}): {}", output.answer);
                return Ok(*output);
            }
            AgentEvent::Error { error } => return Err(error.into()),
            _ => {}
        }
    }
    anyhow::bail!("the run ended without a final event")
}

/// Two runs in one session on scripted models, as printed by `--demo`.
pub(crate) async fn demo() -> anyhow::Result<String> {
    let triage_model = Arc::new(
        ScriptedModel::new()
            .then_calls(vec![ToolCall::new("transfer_to_billing", json!({}))])
            .then_call("opening_hours", json!({}))
            .then_text("We are open Monday to Friday, 9:00 to 17:00."),
    );
    let billing_model = Arc::new(
        ScriptedModel::new()
            .then_call("invoice_status", json!({"invoice": "INV-7"}))
            .then_text("Yes: invoice INV-7 was paid on 2 November 2026."),
    );
    let memory = Arc::new(InMemoryMemory::new());
    let agent = triage(triage_model.clone(), billing_model.clone(), memory.clone())?;
    let mut out = String::from("demo: scripted models stand in for triage and billing\n");
    run(&agent, QUESTION, &mut out).await?;
    if let Some(request) = billing_model.requests().first() {
        let tools: Vec<&str> = request.tools.iter().map(|t| t.name.as_str()).collect();
        let system = request
            .messages
            .first()
            .map(|m| m.text())
            .unwrap_or_default();
        let _ = writeln!(out, "billing was offered: {}", tools.join(", "));
        let _ = writeln!(
            out,
            "billing's system prompt: {}",
            system.split_inclusive('.').next().unwrap_or_default()
        );
    }
    run(&agent, "When are you open?", &mut out).await?;
    let seen = triage_model
        .requests()
        .last()
        .map_or(0, |r| r.messages.len());
    let _ = writeln!(
        out,
        "triage's last request carried {seen} messages, billing's answer among them"
    );
    let info = memory.session(&"support".into()).await?;
    let _ = writeln!(out, "session \"support\": {} messages", info.message_count);
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args == ["--demo"] {
        print!("{}", demo().await?);
        return Ok(());
    }
    let Some(real) = RealArgs::parse(&args).filter(|real| real.rest.len() <= 1) else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let model = real.load().await?;
    let agent = triage(model.clone(), model, Arc::new(InMemoryMemory::new()))?;
    let question = real.rest.first().map_or(QUESTION, String::as_str);
    let mut out = String::new();
    let result = run(&agent, question, &mut out).await;
    print!("{out}");
    result.map(drop)
}
