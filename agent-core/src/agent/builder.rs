//! Building an [`Agent`].

use std::sync::Arc;
use std::time::Duration;

use super::handoff::Handoff;
use super::{Agent, ApprovalHook, VisionStrategy};
use crate::image_cache::ImageCache;
use crate::memory::{ContextStrategy, RunLog, SessionId};
use crate::model::{ChatModel, Sampling, ToolChoice};
use crate::tool::{IntoTool, RegistryError, ToolRegistry};

/// The limits of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Model calls per run before it fails with [`AgentError::StepLimit`](super::AgentError::StepLimit).
    pub max_steps: u32,
    /// Tool calls failing in a row before the run fails with
    /// [`AgentError::TooManyFailures`](super::AgentError::TooManyFailures).
    pub max_consecutive_failures: u32,
    /// Tool calls of one step running at once.
    pub tool_concurrency: usize,
}

impl Default for Limits {
    /// 10 steps, 3 consecutive failures, 4 concurrent tool calls.
    fn default() -> Self {
        Limits {
            max_steps: 10,
            max_consecutive_failures: 3,
            tool_concurrency: 4,
        }
    }
}

/// Why an agent could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No model was given.
    #[error("an agent needs a model: call `.model(..)`")]
    MissingModel,
    /// A session was given without memory to keep it in.
    #[error("a session needs memory: call `.memory(..)`")]
    SessionWithoutMemory,
    /// A tool could not be registered.
    #[error(transparent)]
    Tool(#[from] RegistryError),
    /// A handoff names an agent without a name: its `transfer_to_` tool needs one.
    #[error("a handoff target needs a name: call `.name(..)` on its builder")]
    UnnamedHandoffTarget,
}

/// Builds an [`Agent`]; start with [`Agent::builder`].
#[derive(Default)]
pub struct AgentBuilder {
    name: Option<String>,
    model: Option<Arc<dyn ChatModel>>,
    tools: ToolRegistry,
    tool_errors: Vec<RegistryError>,
    system_prompt: Option<String>,
    memory: Option<Arc<dyn RunLog>>,
    session: Option<SessionId>,
    session_wait: Duration,
    context: ContextStrategy,
    limits: Limits,
    tool_choice: ToolChoice,
    keep_tool_choice: bool,
    sampling: Sampling,
    max_tokens: Option<u32>,
    stop: Vec<String>,
    approval: Option<Arc<dyn ApprovalHook>>,
    image_cache: Option<ImageCache>,
    trace_contents: bool,
    vision: Option<VisionStrategy>,
    handoffs: Vec<(Agent, String)>,
}

impl AgentBuilder {
    /// The agent's name: recorded as `gen_ai.agent.name` on its runs' `invoke_agent` spans,
    /// reported by [`RunOutput::agent`](super::RunOutput::agent), and the name other agents
    /// hand off to (`transfer_to_<name>`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Lets the model transfer the conversation to `target` (which must have a name) by calling
    /// the tool `transfer_to_<name>`, described to the model with `description` (when to
    /// transfer).
    ///
    /// The step with the call is committed with a result saying the conversation was
    /// transferred; the run then continues with the target's model, tools, system prompt,
    /// sampling and approval hook, and its own handoffs, so handoffs chain. The run keeps this
    /// agent's memory session, limits and step count: the step limit bounds the whole chain.
    /// A resumed run ([`Agent::resume`]) continues with the agent it is called on.
    pub fn handoff(mut self, target: Agent, description: impl Into<String>) -> Self {
        self.handoffs.push((target, description.into()));
        self
    }

    /// The model (required).
    pub fn model(self, model: impl ChatModel + 'static) -> Self {
        self.shared_model(Arc::new(model))
    }

    /// A model shared with other agents.
    pub fn shared_model(mut self, model: Arc<dyn ChatModel>) -> Self {
        self.model = Some(model);
        self
    }

    /// The system prompt, sent first on every model call.
    pub fn system_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.system_prompt = Some(prompt.into());
        self
    }

    /// Adds a tool.
    pub fn tool(mut self, tool: impl IntoTool) -> Self {
        if let Err(error) = self.tools.register(tool) {
            self.tool_errors.push(error);
        }
        self
    }

    /// Replaces the tools with a ready registry.
    pub fn tools(mut self, tools: ToolRegistry) -> Self {
        self.tools = tools;
        self
    }

    /// Memory to read the session from and write each step to: any [`RunLog`] (every
    /// [`Memory`](crate::Memory) is one).
    pub fn memory(self, memory: impl RunLog + 'static) -> Self {
        self.shared_memory(Arc::new(memory))
    }

    /// Memory shared with other agents (an `Arc<dyn Memory>` coerces to it).
    pub fn shared_memory(mut self, memory: Arc<dyn RunLog>) -> Self {
        self.memory = Some(memory);
        self
    }

    /// The session to continue (created on first use); a random one when memory is set alone.
    pub fn session(mut self, session: impl Into<SessionId>) -> Self {
        self.session = Some(session.into());
        self
    }

    /// How long a run waits for its session while another run holds it (in this process or
    /// any other sharing the memory) before failing with
    /// [`MemoryError::SessionBusy`](crate::MemoryError::SessionBusy). Default: no wait.
    pub fn session_wait(mut self, wait: Duration) -> Self {
        self.session_wait = wait;
        self
    }

    /// Which stored messages each run starts from (default: all).
    pub fn context(mut self, strategy: ContextStrategy) -> Self {
        self.context = strategy;
        self
    }

    /// All limits at once.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Model calls per run (default 10).
    pub fn max_steps(mut self, steps: u32) -> Self {
        self.limits.max_steps = steps;
        self
    }

    /// Tool calls failing in a row before the run stops (default 3).
    pub fn max_consecutive_failures(mut self, failures: u32) -> Self {
        self.limits.max_consecutive_failures = failures;
        self
    }

    /// Tool calls of one step running at once (default 4).
    pub fn tool_concurrency(mut self, calls: usize) -> Self {
        self.limits.tool_concurrency = calls;
        self
    }

    /// Tool choice of the model calls (default auto). A forcing choice (`Required` or
    /// `Specific`) applies to the first model call of a run; later calls use `Auto` so the
    /// run can end with an answer. See [`reset_tool_choice`](Self::reset_tool_choice).
    pub fn tool_choice(mut self, choice: ToolChoice) -> Self {
        self.tool_choice = choice;
        self
    }

    /// Whether a forcing tool choice falls back to `Auto` after the first model call
    /// (default `true`). With `false`, every call is forced and the run ends at the
    /// step limit.
    pub fn reset_tool_choice(mut self, reset: bool) -> Self {
        self.keep_tool_choice = !reset;
        self
    }

    /// Sampling settings of every model call (default: the model's, greedy for local models).
    pub fn sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// Cap on generated tokens per model call.
    pub fn max_tokens(mut self, tokens: u32) -> Self {
        self.max_tokens = Some(tokens);
        self
    }

    /// Stop sequences of every model call.
    pub fn stop(mut self, stop: Vec<String>) -> Self {
        self.stop = stop;
        self
    }

    /// Asked before every side-effecting tool call.
    pub fn approval(mut self, hook: impl ApprovalHook + 'static) -> Self {
        self.approval = Some(Arc::new(hook));
        self
    }

    /// Shares `cache` for the conversation's images: the agent puts every image of its runs
    /// in it and its tools find them there by hash. Give the model the same cache (e.g.
    /// `MistralRsModelBuilder::with_image_cache`) so it keeps its decoded pixels beside them.
    /// Default: a cache of the agent's own.
    pub fn image_cache(mut self, cache: ImageCache) -> Self {
        self.image_cache = Some(cache);
        self
    }

    /// Records what the model wrote and the tools' arguments and results on the run's tracing
    /// spans (`gen_ai.output.messages`, `gen_ai.tool.call.arguments`,
    /// `gen_ai.tool.call.result`). Off by default: they can hold private data.
    pub fn trace_contents(mut self, record: bool) -> Self {
        self.trace_contents = record;
        self
    }

    /// How images reach the model when tools are offered (default: the model's
    /// [`vision_strategy`](crate::ChatModel::vision_strategy), `PerceiveThenAct` for Llama 3.2
    /// Vision). With no tools, the model always sees the images.
    pub fn vision_strategy(mut self, strategy: VisionStrategy) -> Self {
        self.vision = Some(strategy);
        self
    }

    /// Builds the agent.
    pub fn build(mut self) -> Result<Agent, BuildError> {
        if let Some(error) = self.tool_errors.drain(..).next() {
            return Err(error.into());
        }
        let model = self.model.ok_or(BuildError::MissingModel)?;
        let mut handoffs = Vec::with_capacity(self.handoffs.len());
        for (target, description) in self.handoffs {
            let name = target
                .name()
                .ok_or(BuildError::UnnamedHandoffTarget)?
                .to_string();
            let handoff = Handoff::new(&name, target);
            self.tools.register(handoff.tool(&name, &description))?;
            handoffs.push(handoff);
        }
        let session = match (&self.memory, self.session) {
            (None, Some(_)) => return Err(BuildError::SessionWithoutMemory),
            (Some(_), None) => Some(SessionId::random()),
            (_, session) => session,
        };
        let vision = self.vision.unwrap_or_else(|| model.vision_strategy());
        Ok(Agent {
            name: self.name,
            model,
            tool_specs: self.tools.specs().into(),
            tools: Arc::new(self.tools),
            system_prompt: self.system_prompt,
            memory: self.memory,
            session,
            session_wait: self.session_wait,
            context: self.context,
            limits: Limits {
                tool_concurrency: self.limits.tool_concurrency.max(1),
                ..self.limits
            },
            tool_choice: self.tool_choice,
            reset_tool_choice: !self.keep_tool_choice,
            sampling: self.sampling,
            max_tokens: self.max_tokens,
            stop: self.stop,
            approval: self.approval,
            image_cache: self.image_cache.unwrap_or_default(),
            trace_contents: self.trace_contents,
            vision,
            observations: Default::default(),
            handoffs: handoffs.into(),
        })
    }
}
