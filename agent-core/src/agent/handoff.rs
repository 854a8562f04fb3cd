//! Handoffs: an agent transfers the conversation to another agent, which continues the same
//! run and session with its own model, tools and system prompt.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;

use super::Agent;
use crate::error_kind::ToolErrorKind;
use crate::history::History;
use crate::message::{Message, Role};
use crate::tool::{schema_for, FnTool, ToolFailure, ToolPolicy, ToolSpec};

/// Arguments of a `transfer_to_<agent>` tool: none are needed; extra fields are ignored.
#[derive(Debug, Deserialize, JsonSchema)]
struct TransferArgs {}

/// A registered handoff: the tool the model calls and the agent it transfers to.
#[derive(Debug, Clone)]
pub(super) struct Handoff {
    /// `transfer_to_<target name>`.
    pub(super) tool: String,
    /// The agent that takes over.
    pub(super) target: Agent,
}

impl Handoff {
    /// A handoff to `target`, whose name is `name`.
    pub(super) fn new(name: &str, target: Agent) -> Self {
        Handoff {
            tool: tool_name(name),
            target,
        }
    }

    /// The tool the model calls to transfer the conversation: it answers that the conversation
    /// was transferred; the run loop makes the switch once the step is committed.
    pub(super) fn tool(&self, name: &str, description: &str) -> FnTool {
        let spec = ToolSpec {
            name: self.tool.clone(),
            description: format!(
                "Transfers the conversation to the agent `{name}`: {description} \
                 It takes over and answers the user."
            ),
            parameters: schema_for::<TransferArgs>(),
        };
        let answer = serde_json::Value::String(format!(
            "The conversation was transferred to the agent `{name}`."
        ));
        FnTool::new(spec, ToolPolicy::read_only(), move |_args, _ctx| {
            Box::pin(std::future::ready(Ok(answer.clone())))
        })
    }
}

/// `transfer_to_` and the agent's name, lower case, with every character a tool name cannot
/// hold replaced by `_`.
fn tool_name(agent: &str) -> String {
    let name: String = agent
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("transfer_to_{name}")
}

/// The agent the step's results transfer the conversation to: the first successful
/// `transfer_to_` call of `active`'s handoffs. Later successful transfers of the same step are
/// turned into failures that say where the conversation went, so the history never claims two.
pub(super) fn resolve(active: &Agent, results: &mut [Message]) -> Option<Agent> {
    if active.handoffs.is_empty() {
        return None;
    }
    let mut chosen: Option<&Handoff> = None;
    for result in results.iter_mut() {
        let Some(info) = &result.tool_result else {
            continue;
        };
        if info.error.is_some() {
            continue;
        }
        let Some(handoff) = active.handoffs.iter().find(|h| h.tool == info.name) else {
            continue;
        };
        match chosen {
            None => chosen = Some(handoff),
            Some(first) => {
                let failure = ToolFailure::new(
                    ToolErrorKind::Failed,
                    format!(
                        "only one transfer per step: the conversation went to `{}`",
                        first.target.name().unwrap_or(&first.tool)
                    ),
                );
                let mut info = info.clone();
                info.error = Some(failure.kind);
                *result = Message::tool_result(info, failure.to_model_text());
            }
        }
    }
    chosen.map(|handoff| handoff.target.clone())
}

/// `history` with its leading system prompt `old` (when it starts with it) replaced by `new`.
/// Every other segment is shared, not copied.
pub(super) fn swap_system_prompt(
    history: &History,
    old: Option<&str>,
    new: Option<&str>,
) -> History {
    let mut segments = history.segments().peekable();
    let starts_with_old = segments.peek().is_some_and(|first| {
        matches!(&first[..], [message] if message.role == Role::System
            && old.is_some_and(|old| message.text() == old))
    });
    if starts_with_old {
        segments.next();
    }
    let mut swapped = History::new();
    if let Some(prompt) = new {
        swapped.push(Message::system(prompt));
    }
    for segment in segments {
        swapped.append(Arc::clone(segment));
    }
    swapped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;
    use futures::StreamExt as _;
    use serde_json::json;

    fn now() -> FnTool {
        tool_fn(
            "now",
            "The current time.",
            |_: serde_json::Value| async move { Ok::<_, String>("10:00") },
        )
    }

    fn add() -> FnTool {
        tool_fn("add", "Adds.", |x: serde_json::Value| async move {
            Ok::<_, String>(x["a"].as_i64().unwrap_or(0) + x["b"].as_i64().unwrap_or(0))
        })
    }

    fn transfer(to: &str) -> ToolCall {
        ToolCall::new(format!("transfer_to_{to}"), json!({}))
    }

    /// A named agent on `model` with `prompt` and `tool`.
    fn named(name: &str, model: &Arc<ScriptedModel>, prompt: &str, tool: FnTool) -> AgentBuilder {
        Agent::builder()
            .name(name)
            .shared_model(model.clone())
            .system_prompt(prompt)
            .tool(tool)
    }

    fn tool_names(request: &ChatRequest) -> Vec<&str> {
        request.tools.iter().map(|t| t.name.as_str()).collect()
    }

    #[tokio::test]
    async fn a_handoff_continues_with_the_targets_model_tools_and_system_prompt() {
        let triage_model = Arc::new(ScriptedModel::new().then_calls(vec![transfer("billing")]));
        let billing_model = Arc::new(
            ScriptedModel::new()
                .then_call("add", json!({"a": 40, "b": 2}))
                .then_text("You owe 42."),
        );
        let billing = named("billing", &billing_model, "You do billing.", add())
            .build()
            .unwrap();
        let triage = named("triage", &triage_model, "You triage.", now())
            .handoff(billing, "for invoices and payments.")
            .build()
            .unwrap();
        let output = triage.run("What do I owe?").await.unwrap();

        assert_eq!(output.answer, "You owe 42.");
        assert_eq!(output.agent.as_deref(), Some("billing"));
        let steps = &output.trace.steps;
        assert_eq!(steps.len(), 3);
        assert_eq!(
            steps[0].tool_results()[0].text(),
            "The conversation was transferred to the agent `billing`."
        );
        // Triage offered its own tool and the transfer; billing only its own tool.
        let triage_requests = triage_model.requests();
        assert_eq!(triage_requests.len(), 1);
        assert_eq!(
            tool_names(&triage_requests[0]),
            ["now", "transfer_to_billing"]
        );
        assert!(triage_requests[0].tools[1]
            .description
            .contains("for invoices and payments."));
        let billing_requests = billing_model.requests();
        assert_eq!(billing_requests.len(), 2);
        assert_eq!(tool_names(&billing_requests[0]), ["add"]);
        // Billing reads its own system prompt, then the whole conversation so far.
        let seen: Vec<(Role, String)> = billing_requests[0]
            .messages
            .iter()
            .map(|m| (m.role, m.text()))
            .collect();
        assert_eq!(seen[0], (Role::System, "You do billing.".into()));
        assert_eq!(seen[1], (Role::User, "What do I owe?".into()));
        assert_eq!(seen[2].0, Role::Assistant);
        assert_eq!(seen[3].0, Role::Tool);
        assert_eq!(seen.len(), 4);
        assert_eq!(billing_requests[1].messages.len(), 6);
    }

    #[tokio::test]
    async fn the_run_keeps_writing_the_first_agents_session() {
        let memory = Arc::new(InMemoryMemory::new());
        let triage_model = Arc::new(
            ScriptedModel::new()
                .then_calls(vec![transfer("billing")])
                .then_text("Anything else?"),
        );
        let billing_model = Arc::new(ScriptedModel::new().then_text("Paid in full."));
        let billing_memory = Arc::new(InMemoryMemory::new());
        let billing = named("billing", &billing_model, "You do billing.", add())
            .shared_memory(billing_memory.clone())
            .session("billing's own")
            .build()
            .unwrap();
        let triage = named("triage", &triage_model, "You triage.", now())
            .handoff(billing, "for payments.")
            .shared_memory(memory.clone())
            .session("chat")
            .build()
            .unwrap();
        triage.run("Did I pay?").await.unwrap();
        let second = triage.run("Thanks.").await.unwrap();
        assert_eq!(second.agent.as_deref(), Some("triage"));

        // Both runs are in the first agent's session; the target's memory is untouched.
        let session = memory.session(&"chat".into()).await.unwrap();
        assert_eq!(session.message_count, 6);
        assert!(billing_memory.list_sessions().await.unwrap().is_empty());
        // The next run, again starting with triage, reads what billing said.
        let seen: Vec<String> = triage_model.requests()[1]
            .messages
            .iter()
            .map(Message::text)
            .collect();
        assert_eq!(seen[0], "You triage.");
        assert_eq!(seen[4], "Paid in full.");
        assert_eq!(seen[5], "Thanks.");
    }

    #[tokio::test]
    async fn a_target_can_hand_back_and_the_step_limit_bounds_the_chain() {
        let scripts = || {
            (
                Arc::new(ScriptedModel::new().then_calls(vec![transfer("billing")])),
                Arc::new(ScriptedModel::new().then_calls(vec![transfer("triage")])),
                Arc::new(
                    ScriptedModel::new()
                        .then_call("now", json!({}))
                        .then_text("Back at triage."),
                ),
            )
        };
        // Handoff targets are built agents, so a way back is a triage agent built before the
        // agent that hands to billing.
        let build = |triage: &Arc<ScriptedModel>,
                     billing: &Arc<ScriptedModel>,
                     back: &Arc<ScriptedModel>,
                     max_steps: u32| {
            let back = named("triage", back, "You triage.", now()).build().unwrap();
            let billing = named("billing", billing, "You do billing.", add())
                .handoff(back, "for anything but billing.")
                .build()
                .unwrap();
            named("triage", triage, "You triage.", now())
                .handoff(billing, "for billing.")
                .max_steps(max_steps)
                .build()
                .unwrap()
        };

        let (triage, billing, back) = scripts();
        let output = build(&triage, &billing, &back, 10)
            .run("hello")
            .await
            .unwrap();
        assert_eq!(output.answer, "Back at triage.");
        assert_eq!(output.agent.as_deref(), Some("triage"));
        assert_eq!(output.trace.steps.len(), 4);
        assert_eq!(
            tool_names(&billing.requests()[0]),
            ["add", "transfer_to_triage"]
        );
        let last = &back.requests()[1];
        assert_eq!(tool_names(last), ["now"]);
        let system: Vec<String> = last
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(Message::text)
            .collect();
        assert_eq!(system, ["You triage."]);

        let (triage, billing, back) = scripts();
        let error = build(&triage, &billing, &back, 3)
            .run("hello")
            .await
            .unwrap_err();
        assert!(
            matches!(error, AgentError::StepLimit { limit: 3, .. }),
            "{error:?}"
        );
        assert_eq!(error.trace().unwrap().steps.len(), 3);
        assert_eq!(back.remaining(), 1);
    }

    #[tokio::test]
    async fn one_transfer_per_step_and_the_stream_reports_it() {
        let model = Arc::new(
            ScriptedModel::new().then_calls(vec![transfer("billing"), transfer("support")]),
        );
        let billing_model = Arc::new(ScriptedModel::new().then_text("billing here"));
        let support_model = Arc::new(ScriptedModel::new());
        let billing = named("billing", &billing_model, "b", add())
            .build()
            .unwrap();
        let support = named("support", &support_model, "s", add())
            .build()
            .unwrap();
        let triage = named("triage", &model, "t", now())
            .handoff(billing, "billing")
            .handoff(support, "support")
            .build()
            .unwrap();
        let mut stream = triage.run_stream("help");
        let mut handoffs = Vec::new();
        let mut output = None;
        while let Some(event) = stream.next().await {
            match event {
                AgentEvent::Handoff { step, from, to } => handoffs.push((step, from, to)),
                AgentEvent::Final { output: done } => output = Some(done),
                AgentEvent::Error { error } => panic!("{error}"),
                _ => {}
            }
        }
        assert_eq!(handoffs, [(1, Some("triage".into()), "billing".into())]);
        let output = output.unwrap();
        assert_eq!(output.answer, "billing here");
        let second = &output.trace.steps[0].tool_results()[1];
        assert_eq!(
            second.tool_result.as_ref().unwrap().error,
            Some(ToolErrorKind::Failed)
        );
        assert!(
            second.text().contains("went to `billing`"),
            "{}",
            second.text()
        );
        assert!(support_model.requests().is_empty());
    }

    #[test]
    fn a_handoff_target_needs_a_name() {
        let unnamed = Agent::builder()
            .model(ScriptedModel::new())
            .build()
            .unwrap();
        let built = Agent::builder()
            .model(ScriptedModel::new())
            .handoff(unnamed, "never")
            .build();
        assert!(matches!(built, Err(BuildError::UnnamedHandoffTarget)));
    }

    #[test]
    fn tool_names_hold_only_what_models_can_write() {
        assert_eq!(tool_name("billing"), "transfer_to_billing");
        assert_eq!(tool_name("Billing Desk!"), "transfer_to_billing_desk_");
    }

    #[test]
    fn the_system_prompt_is_swapped_and_the_rest_shared() {
        let mut history = History::new();
        history.push(Message::system("triage"));
        let turn: Arc<[Message]> = Arc::from([Message::user("hi"), Message::assistant("yo")]);
        history.append(Arc::clone(&turn));

        let swapped = swap_system_prompt(&history, Some("triage"), Some("billing"));
        let texts: Vec<String> = swapped.iter().map(Message::text).collect();
        assert_eq!(texts, ["billing", "hi", "yo"]);
        assert!(Arc::ptr_eq(swapped.segments().nth(1).unwrap(), &turn));

        let without = swap_system_prompt(&history, Some("triage"), None);
        assert_eq!(without.len(), 2);
        let kept = swap_system_prompt(&without, None, Some("billing"));
        assert_eq!(kept.len(), 3);
        assert_eq!(kept[0].role, Role::System);
    }
}
