//! The agent loop: model calls, concurrent tool dispatch, memory, events and limits.

mod agent_tool;
mod approval;
mod builder;
mod error;
mod events;
mod handoff;
mod run;
mod spans;
mod trace;
mod typed;
mod vision;

use std::sync::Arc;

use crate::image_cache::ImageCache;
use crate::memory::{ContextStrategy, RunLog, SessionId};
use crate::model::{ChatModel, Sampling, ToolChoice};
use crate::tool::{ToolRegistry, ToolSpec};

pub use agent_tool::{AgentTool, AgentToolArgs, DEFAULT_AGENT_TOOL_TIMEOUT};
pub use approval::{Approval, ApprovalHook};
pub use builder::{AgentBuilder, BuildError, Limits};
pub use error::AgentError;
pub use events::{AgentEvent, AgentStream};
pub use trace::{RunOutput, RunTrace, Step};
pub use vision::{is_observation, UnknownVisionStrategy, VisionStrategy, MAX_CACHED_OBSERVATIONS};

/// An agent: a model, its tools, optional memory, and the limits of a run.
///
/// Cheap to clone: everything is shared.
///
/// ```
/// use argus_core::{tool_fn, Agent, ScriptedModel};
/// use schemars::JsonSchema;
/// use serde::Deserialize;
/// use serde_json::json;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Add { a: i64, b: i64 }
///
/// # tokio_test_runtime(async {
/// let model = ScriptedModel::new()
///     .then_call("add", json!({"a": 2, "b": 3}))
///     .then_text("2 + 3 = 5");
/// let agent = Agent::builder()
///     .model(model)
///     .system_prompt("You are a calculator.")
///     .tool(tool_fn("add", "Adds two integers.", |x: Add| async move { Ok::<_, String>(x.a + x.b) }))
///     .build()
///     .unwrap();
/// let output = agent.run("What is 2 + 3?").await.unwrap();
/// assert_eq!(output.answer, "2 + 3 = 5");
/// assert_eq!(output.trace.steps[0].tool_results()[0].text(), "5");
/// # });
/// # fn tokio_test_runtime(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone)]
pub struct Agent {
    /// Names the agent in spans, events, handoff tools and [`RunOutput::agent`].
    name: Option<String>,
    model: Arc<dyn ChatModel>,
    tools: Arc<ToolRegistry>,
    /// The registry's specs, shared by every request.
    tool_specs: Arc<[ToolSpec]>,
    system_prompt: Option<String>,
    memory: Option<Arc<dyn RunLog>>,
    session: Option<SessionId>,
    /// How long a run waits for a session another run holds.
    session_wait: std::time::Duration,
    context: ContextStrategy,
    limits: Limits,
    tool_choice: ToolChoice,
    reset_tool_choice: bool,
    sampling: Sampling,
    max_tokens: Option<u32>,
    stop: Vec<String>,
    approval: Option<Arc<dyn ApprovalHook>>,
    image_cache: ImageCache,
    /// Whether spans carry message and tool contents.
    trace_contents: bool,
    /// How images reach the model when tools are offered.
    vision: VisionStrategy,
    /// Observations made under [`VisionStrategy::PerceiveThenAct`], shared by clones.
    observations: vision::ObservationCache,
    /// The agents the model may transfer the conversation to.
    handoffs: Arc<[handoff::Handoff]>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("name", &self.name)
            .field("model", &self.model.name())
            .field("tools", &self.tools)
            .field("session", &self.session)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// Starts building an agent.
    pub fn builder() -> AgentBuilder {
        AgentBuilder::default()
    }

    /// The agent's name, when it was given one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The agent's tools (its `transfer_to_` handoff tools included).
    pub fn tools(&self) -> &ToolRegistry {
        &self.tools
    }

    /// The cache holding the images of the agent's runs.
    pub fn image_cache(&self) -> &ImageCache {
        &self.image_cache
    }

    /// How the agent shows images to its model when tools are offered.
    pub fn vision_strategy(&self) -> VisionStrategy {
        self.vision
    }

    /// The session the agent reads and writes, when it has memory.
    pub fn session(&self) -> Option<&SessionId> {
        self.session.as_ref()
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod typed_tests;
#[cfg(test)]
mod vision_tests;
