//! An agent as a tool of another agent: the parent's model asks, the inner agent runs with its
//! own model, tools, system prompt and memory, and its answer is the tool result.

use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::{Agent, AgentError};
use crate::error_kind::ToolErrorKind;
use crate::memory::SessionId;
use crate::message::{ImageRef, Message};
use crate::tool::{schema_for, FnTool, IntoTool, ToolContext, ToolFailure, ToolPolicy, ToolSpec};

/// The timeout of an agent tool whose policy names none: an inner run makes several model
/// calls, which the registry's 60-second default would cut short.
pub const DEFAULT_AGENT_TOOL_TIMEOUT: Duration = Duration::from_secs(600);

/// The arguments of an [`AgentTool`].
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct AgentToolArgs {
    /// The request for the agent, complete in itself: the agent sees nothing else of this
    /// conversation.
    pub input: String,
}

/// An [`Agent`] as a tool of another agent; made with [`Agent::into_tool`] and registered like
/// any tool (`AgentBuilder::tool`).
///
/// Each call runs the inner agent on the call's `input` with its own model, tools, system
/// prompt and limits; its final answer is the tool result. The parent's cancellation cancels
/// the inner run. An inner run that ends without an answer is a tool failure the parent's model
/// reads: [`ToolErrorKind::StepLimit`] when it reached its step limit,
/// [`ToolErrorKind::Cancelled`] when cancelled, [`ToolErrorKind::Failed`] otherwise (its model
/// or memory failed, or its tool calls kept failing).
///
/// The inner run's `invoke_agent` span is a child of the parent's `execute_tool` span and
/// carries the inner agent's name (`gen_ai.agent.name`; the tool's name when the agent has
/// none).
///
/// Memory: an inner agent with memory runs each call in a session of its own, named
/// `<parent session>/<tool name>/<call id>` (`<tool name>/<call id>` when the parent has no
/// session), so inner conversations neither mix with each other nor with the parent's, and
/// each can be looked up from the parent's tool call. An inner agent without memory keeps
/// nothing between calls.
#[derive(Debug, Clone)]
pub struct AgentTool {
    agent: Agent,
    name: String,
    description: String,
    conversation_images: bool,
    policy: ToolPolicy,
}

impl Agent {
    /// This agent as a tool named `name` (what the parent's model calls) described by
    /// `description` (what it is for and when to call it). See [`AgentTool`].
    pub fn into_tool(self, name: impl Into<String>, description: impl Into<String>) -> AgentTool {
        AgentTool {
            agent: self,
            name: name.into(),
            description: description.into(),
            conversation_images: false,
            policy: ToolPolicy::read_only().with_timeout(DEFAULT_AGENT_TOOL_TIMEOUT),
        }
    }
}

impl AgentTool {
    /// Gives the inner run the parent conversation's images ([`ToolContext::images`], with
    /// their bytes) after the input text, so a vision agent sees the picture the user sent to a
    /// text agent.
    pub fn with_conversation_images(mut self) -> Self {
        self.conversation_images = true;
        self
    }

    /// Replaces the policy (default: read-only, [`DEFAULT_AGENT_TOOL_TIMEOUT`]). The inner
    /// agent's own approval hook guards its side-effecting tools either way.
    pub fn with_policy(mut self, policy: ToolPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The inner agent.
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// Runs the inner agent for one call.
    async fn answer(&self, args: AgentToolArgs, ctx: ToolContext) -> Result<String, ToolFailure> {
        let mut agent = self.agent.clone();
        if agent.name.is_none() {
            agent.name = Some(self.name.clone());
        }
        if agent.memory.is_some() {
            agent.session = Some(self.session(&ctx));
        }
        let input = if self.conversation_images {
            let images: Vec<ImageRef> = ctx
                .images()
                .iter()
                .map(|image| ctx.image(&image.sha256).unwrap_or_else(|| image.clone()))
                .collect();
            Message::user_with_images(args.input, images)
        } else {
            Message::user(args.input)
        };
        let cancel = ctx.cancellation().child_token();
        match agent.run_cancellable(input, cancel).await {
            Ok(output) => Ok(output.answer),
            Err(error) => {
                tracing::warn!(tool = %self.name, error = %ErrorChain(&error), "inner agent failed");
                Err(self.failure(&error))
            }
        }
    }

    /// The inner session of the call `ctx` serves.
    fn session(&self, ctx: &ToolContext) -> SessionId {
        match ctx.session_id() {
            Some(parent) => SessionId::new(format!("{parent}/{}/{}", self.name, ctx.call_id())),
            None => SessionId::new(format!("{}/{}", self.name, ctx.call_id())),
        }
    }

    /// What the parent's model reads when the inner run ended without an answer.
    fn failure(&self, error: &AgentError) -> ToolFailure {
        let name = self.agent.name().unwrap_or(&self.name);
        match error {
            AgentError::StepLimit { limit, .. } => ToolFailure::new(
                ToolErrorKind::StepLimit,
                format!(
                    "the agent `{name}` used its {limit} steps without an answer; \
                     ask it for something smaller"
                ),
            ),
            AgentError::Cancelled { .. } => {
                ToolFailure::new(ToolErrorKind::Cancelled, "the run was cancelled")
            }
            AgentError::Model { source, .. } => ToolFailure::new(
                ToolErrorKind::Failed,
                format!("the agent `{name}` could not answer: its model failed: {source}"),
            ),
            AgentError::TooManyFailures { failures, .. } => ToolFailure::new(
                ToolErrorKind::Failed,
                format!("the agent `{name}` stopped after {failures} failed tool calls in a row"),
            ),
            other => ToolFailure::new(
                ToolErrorKind::Failed,
                format!("the agent `{name}` could not answer: {other}"),
            ),
        }
    }
}

impl IntoTool for AgentTool {
    fn into_tool(self) -> FnTool {
        let spec = ToolSpec {
            name: self.name.clone(),
            description: self.description.clone(),
            parameters: schema_for::<AgentToolArgs>(),
        };
        let policy = self.policy.clone();
        let tool = Arc::new(self);
        FnTool::new(spec, policy, move |args: Value, ctx: ToolContext| {
            let tool = Arc::clone(&tool);
            Box::pin(async move {
                let args: AgentToolArgs = serde_json::from_value(args).map_err(|error| {
                    ToolFailure::new(ToolErrorKind::InvalidArguments, error.to_string())
                })?;
                tool.answer(args, ctx).await.map(Value::String)
            })
        })
    }
}

/// An error and its sources, `: `-separated, for the operator's log.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use serde_json::json;

    use crate::*;

    /// The parent's result messages of step `index`.
    fn results(output: &RunTrace, index: usize) -> Vec<(String, Option<ToolErrorKind>)> {
        output.steps[index]
            .tool_results()
            .iter()
            .map(|m| (m.text(), m.tool_result.as_ref().and_then(|i| i.error)))
            .collect()
    }

    fn describer(model: Arc<ScriptedModel>) -> AgentBuilder {
        Agent::builder()
            .name("describer")
            .shared_model(model)
            .system_prompt("You describe images.")
    }

    fn planner(model: Arc<ScriptedModel>, tool: AgentTool) -> Agent {
        Agent::builder()
            .name("planner")
            .shared_model(model)
            .system_prompt("You plan.")
            .tool(tool)
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn the_inner_answer_is_the_tool_result_and_the_inner_agent_sees_the_images() {
        let inner = Arc::new(ScriptedModel::new().then_text("three red squares"));
        let outer = Arc::new(
            ScriptedModel::new()
                .then_call("describe", json!({"input": "What shapes are there?"}))
                .then_text("There are three squares."),
        );
        let tool = describer(Arc::clone(&inner))
            .build()
            .unwrap()
            .into_tool("describe", "Describes the user's image.")
            .with_conversation_images();
        let agent = planner(Arc::clone(&outer), tool);
        let photo = ImageRef::from_bytes(vec![1, 2, 3], "image/png");
        let output = agent
            .run(Message::user_with_images(
                "Count the shapes.",
                vec![photo.clone()],
            ))
            .await
            .unwrap();

        assert_eq!(output.answer, "There are three squares.");
        assert_eq!(output.agent.as_deref(), Some("planner"));
        assert_eq!(
            results(&output.trace, 0),
            [("three red squares".into(), None)]
        );
        // The parent's model reads the tool with its argument description.
        let spec = &outer.requests()[0].tools[0];
        assert_eq!(spec.name, "describe");
        assert!(spec.parameters["properties"]["input"]["description"]
            .as_str()
            .unwrap()
            .contains("complete in itself"));
        // The inner model saw its own system prompt, the call's input and the user's image.
        let seen = &inner.requests()[0];
        assert!(seen.tools.is_empty());
        let messages = seen.messages.to_vec();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].text(), "You describe images.");
        assert_eq!(messages[1].text(), "What shapes are there?");
        let images: Vec<&ImageRef> = messages[1].images().collect();
        assert_eq!(images, [&photo]);
        assert!(images[0].data.is_some());
    }

    #[tokio::test]
    async fn without_the_option_the_inner_agent_sees_no_images() {
        let inner = Arc::new(ScriptedModel::new().then_text("I see nothing."));
        let outer = Arc::new(
            ScriptedModel::new()
                .then_call("describe", json!({"input": "Describe it."}))
                .then_text("ok"),
        );
        let tool = describer(Arc::clone(&inner))
            .build()
            .unwrap()
            .into_tool("describe", "Describes.");
        let photo = ImageRef::from_bytes(vec![4, 5], "image/png");
        planner(outer, tool)
            .run(Message::user_with_images("Look.", vec![photo]))
            .await
            .unwrap();
        assert_eq!(inner.requests()[0].messages[1].images().count(), 0);
    }

    #[tokio::test]
    async fn an_inner_run_without_an_answer_is_a_typed_tool_failure() {
        let mut looping = ScriptedModel::new();
        for _ in 0..3 {
            looping = looping.then_call("describe_more", json!({}));
        }
        let step_limited = Agent::builder()
            .name("looper")
            .model(looping)
            .max_steps(2)
            .build()
            .unwrap()
            .into_tool("loop", "Loops.");
        let broken = Agent::builder()
            .model(ScriptedModel::new().then_error("the GPU caught fire"))
            .build()
            .unwrap()
            .into_tool("broken", "Fails.");
        let outer = Arc::new(
            ScriptedModel::new()
                .then_calls(vec![
                    ToolCall::new("loop", json!({"input": "go"})),
                    ToolCall::new("broken", json!({"input": "go"})),
                    ToolCall::new("broken", json!({"text": "wrong field"})),
                ])
                .then_text("Both helpers failed."),
        );
        let agent = Agent::builder()
            .shared_model(outer)
            .tool(step_limited)
            .tool(broken)
            .max_consecutive_failures(5)
            .build()
            .unwrap();
        let output = agent.run("help").await.unwrap();
        let results = results(&output.trace, 0);
        assert_eq!(results[0].1, Some(ToolErrorKind::StepLimit));
        assert!(
            results[0].0.contains("the agent `looper` used its 2 steps"),
            "{}",
            results[0].0
        );
        assert_eq!(results[1].1, Some(ToolErrorKind::Failed));
        assert!(
            results[1].0.contains("the agent `broken`"),
            "{}",
            results[1].0
        );
        assert!(results[1].0.contains("GPU caught fire"), "{}", results[1].0);
        assert_eq!(results[2].1, Some(ToolErrorKind::InvalidArguments));
        assert_eq!(output.answer, "Both helpers failed.");
    }

    #[tokio::test(start_paused = true)]
    async fn cancelling_the_parent_cancels_the_inner_run() {
        let inner = Arc::new(
            ScriptedModel::new()
                .then_after(Duration::from_secs(60), ChatResponse::text("too late")),
        );
        let memory = Arc::new(InMemoryMemory::new());
        let tool = Agent::builder()
            .shared_model(inner.clone())
            .shared_memory(memory.clone())
            .build()
            .unwrap()
            .into_tool("slow", "Thinks slowly.");
        let outer = ScriptedModel::new()
            .then_call("slow", json!({"input": "think"}))
            .then_text("never");
        let agent = Agent::builder().model(outer).tool(tool).build().unwrap();
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            trigger.cancel();
        });
        let started = tokio::time::Instant::now();
        let error = agent.run_cancellable("go", cancel).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(60));
        let AgentError::Cancelled { trace } = &error else {
            panic!("unexpected {error:?}");
        };
        assert_eq!(results(trace, 0)[0].1, Some(ToolErrorKind::Cancelled));
        // The inner run started, and stopped before its model answered.
        assert_eq!(inner.requests().len(), 1);
        let sessions = memory.list_sessions().await.unwrap();
        let last = memory.last_run(&sessions[0].id).await.unwrap().unwrap();
        assert_eq!((last.steps, last.finished), (1, false));
    }

    #[tokio::test]
    async fn each_call_runs_in_an_inner_session_named_after_the_parent_and_the_call() {
        let memory = Arc::new(InMemoryMemory::new());
        let inner = Arc::new(
            ScriptedModel::new()
                .then_text("first answer")
                .then_text("second answer"),
        );
        let tool = describer(Arc::clone(&inner))
            .shared_memory(memory.clone())
            .session("ignored")
            .build()
            .unwrap()
            .into_tool("describe", "Describes.");
        let first = ToolCall::new("describe", json!({"input": "one"}));
        let second = ToolCall::new("describe", json!({"input": "two"}));
        let outer = ScriptedModel::new()
            .then_calls(vec![first.clone()])
            .then_calls(vec![second.clone()])
            .then_text("done");
        let agent = Agent::builder()
            .model(outer)
            .tool(tool)
            .shared_memory(memory.clone())
            .session("parent")
            .build()
            .unwrap();
        agent.run("go").await.unwrap();

        for (call, answer) in [(&first, "first answer"), (&second, "second answer")] {
            let id = SessionId::new(format!("parent/describe/{}", call.id));
            let export = memory.export_session(&id).await.unwrap();
            let texts: Vec<String> = export
                .steps
                .iter()
                .flat_map(|logged| logged.step.messages.iter().map(Message::text))
                .collect();
            assert_eq!(texts[1], answer, "{texts:?}");
        }
        // The second call did not see the first: each call is a fresh inner conversation.
        assert_eq!(inner.requests()[1].messages.len(), 2);
    }
}
