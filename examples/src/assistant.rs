//! The assistant both `run` and `chat` drive: a model, the built-in tools, memory, approval.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use argus_core::{
    Agent, ApprovalHook, ChatModel, ContextStrategy, ImageCache, ImageRef, Memory, Message,
    TokenCounter, ToolChoice, ToolRegistry, ToolSpec, VisionStrategy,
};
use argus_mcp::McpServerConfig;
use argus_tools::{
    Calculator, Clock, HttpFetch, ImageTool, ListFiles, ReadFile, Recall, Sandbox, WriteFile,
};
use argus_vision::{ImageLoadError, ImageLoader};

use crate::commands::mcp;
use crate::db_args::{parse_secs, DbArgs, OpenMemory};
use crate::exit::UserError;
#[cfg(feature = "local")]
use crate::local_model::RawPolicy;
use crate::model_args::ModelArgs;

const SYSTEM_PROMPT: &str = "You are Argus, a careful assistant that can see images and use \
tools. Call a tool when it gives a better answer than you could alone; otherwise answer directly \
and concisely.";

/// Everything that shapes the assistant.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AgentArgs {
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    #[command(flatten)]
    pub(crate) db: DbArgs,
    /// How long to wait for the session while another run (here or in another process
    /// sharing the database) holds it; without it a busy session fails at once (exit code 75).
    #[arg(long, value_name = "SECS", value_parser = parse_secs, default_value = "0")]
    pub(crate) session_wait: Duration,
    /// The system prompt.
    #[arg(long, default_value = SYSTEM_PROMPT)]
    pub(crate) system: String,
    /// The directory the file tools may read and write (default: the current directory).
    #[arg(long)]
    pub(crate) workspace: Option<PathBuf>,
    /// Offer no tools to the model.
    #[arg(long)]
    pub(crate) no_tools: bool,
    /// Tool choice: auto, none or required.
    #[arg(long, default_value = "auto", value_parser = parse_tool_choice)]
    pub(crate) tool_choice: ToolChoice,
    /// Model calls per question.
    #[arg(long, default_value_t = 8)]
    pub(crate) max_steps: u32,
    /// Tokens generated per model call.
    #[arg(long, default_value_t = 512)]
    pub(crate) max_tokens: u32,
    /// How images reach a model that is offered tools: `direct` (images and tool schemas in
    /// one prompt) or `perceive-then-act` (observe the images without tools first, then use
    /// tools on text). Default: the model's own (perceive-then-act for Llama 3.2 Vision).
    #[arg(long, value_name = "STRATEGY")]
    pub(crate) vision_strategy: Option<VisionStrategy>,
    /// An MCP server whose tools the assistant may use: `NAME='COMMAND ARGS…'` (started, over
    /// stdio) or `NAME=http://HOST:PORT/mcp` (streamable HTTP). Repeatable; a tool another
    /// server or a built-in tool also has is called `NAME_TOOL`. Tools the server does not mark
    /// read-only ask before they run.
    #[arg(long = "mcp", value_name = "NAME=SERVER")]
    pub(crate) mcp: Vec<McpServerConfig>,
    /// Run side-effecting tools (e.g. write_file) without asking.
    #[arg(long)]
    pub(crate) yes: bool,
    /// Raw completion: no chat template and no system prompt, the question's text is continued
    /// as is (for base models; a base GGUF — no chat template in its metadata — is completed
    /// raw by default when no tools are offered).
    #[arg(long)]
    pub(crate) raw: bool,
}

fn parse_tool_choice(text: &str) -> Result<ToolChoice, String> {
    match text {
        "auto" => Ok(ToolChoice::Auto),
        "none" => Ok(ToolChoice::None),
        "required" => Ok(ToolChoice::Required),
        other => Err(format!(
            "unknown tool choice `{other}` (expected auto, none or required)"
        )),
    }
}

/// Tokens of the paragraph that introduces the tool definitions in a system prompt (about 60
/// words), with margin.
const TOOL_INSTRUCTIONS_TOKENS: usize = 128;

/// Approves every call (`--yes`).
struct ApproveAll;

#[argus_core::async_trait]
impl ApprovalHook for ApproveAll {
    async fn approve(
        &self,
        _call: &argus_core::ToolCall,
        _spec: &argus_core::ToolSpec,
    ) -> argus_core::Approval {
        argus_core::Approval::Approve
    }
}

impl AgentArgs {
    /// Builds the agent on `session` (with the `--db` memory) or without memory.
    pub(crate) async fn build(
        &self,
        session: Option<&str>,
        approval: impl ApprovalHook + 'static,
    ) -> anyhow::Result<(Agent, Option<OpenMemory>)> {
        self.db.check()?;
        let memory = match session {
            Some(_) => Some(self.db.open().await?),
            None => None,
        };
        // One cache for the conversation's images: the agent's, its tools' and the model's.
        let images = ImageCache::new();
        if self.raw && self.model.remote.api_base.is_some() {
            return Err(UserError::usage(
                "--raw applies to models run in this process; a server applies its own template",
            )
            .into());
        }
        #[cfg_attr(not(feature = "local"), allow(unused_mut))]
        let mut model_args = self.model.clone();
        #[cfg(feature = "local")]
        {
            model_args.local.raw = if self.raw {
                RawPolicy::Always
            } else if self.no_tools || self.tool_choice == ToolChoice::None {
                RawPolicy::BaseModels
            } else {
                RawPolicy::Chat
            };
        }
        if self.no_tools && !self.mcp.is_empty() {
            return Err(
                UserError::usage("--mcp offers tools: it cannot go with --no-tools").into(),
            );
        }
        let model = model_args.load(&images).await?;
        let mut tools = ToolRegistry::new();
        if !self.no_tools {
            let shared = memory.as_ref().map(OpenMemory::shared);
            tools = builtin_tools(self.workspace.as_deref(), shared)?;
            if let Some(toolset) = mcp::connect_servers(&self.mcp).await? {
                mcp::add_tools(&toolset, &mut tools);
            }
        }
        let context = self.context_strategy(model.as_ref(), tools.specs());
        let mut builder = Agent::builder()
            .shared_model(model)
            .image_cache(images)
            .system_prompt(self.system.clone())
            .tool_choice(self.tool_choice.clone())
            .max_steps(self.max_steps)
            .max_tokens(self.max_tokens)
            .tools(tools)
            .trace_contents(crate::telemetry::trace_contents());
        if let Some(strategy) = self.vision_strategy {
            builder = builder.vision_strategy(strategy);
        }
        if let (Some(memory), Some(session)) = (&memory, session) {
            builder = builder
                .shared_memory(memory.shared())
                .session(session)
                .session_wait(self.session_wait);
            if let Some(context) = context {
                builder = builder.context(context);
            }
        }
        builder = if self.yes {
            builder.approval(ApproveAll)
        } else {
            builder.approval(approval)
        };
        Ok((builder.build()?, memory))
    }

    /// The context a session run starts from: as many of the latest stored messages as fit the
    /// model's window (with its own token counter, else the estimate) once the system prompt,
    /// the tool definitions, the new question and the answer have room. `None` when the model
    /// does not know its window (everything is loaded).
    fn context_strategy(
        &self,
        model: &dyn ChatModel,
        tools: &[ToolSpec],
    ) -> Option<ContextStrategy> {
        let window = model.context_length()?;
        let counter = model.token_counter().unwrap_or_else(TokenCounter::estimate);
        let tools = if tools.is_empty() {
            0
        } else {
            // The tool definitions go into the system prompt as compact JSON with a paragraph
            // of instructions: counted as a message of the schemas plus that paragraph.
            let definitions = serde_json::to_string(tools).unwrap_or_default();
            counter.count(&Message::system(definitions)) + TOOL_INSTRUCTIONS_TOKENS
        };
        let reserved = counter.count(&Message::system(self.system.clone()))
            + tools
            + 2 * self.max_tokens as usize;
        let max_tokens = window.saturating_sub(reserved).max(window / 4);
        tracing::debug!(window, reserved, max_tokens, "session context budget");
        Some(ContextStrategy::TokenBudget {
            max_tokens,
            counter,
        })
    }
}

/// The built-in tools: calculator, clock, `http_fetch` behind the default network guard, the
/// file and image tools confined to a sandbox at `workspace` (default: the current directory),
/// and `recall` when there is memory. `run`, `chat` and `mcp serve` offer these.
pub(crate) fn builtin_tools(
    workspace: Option<&Path>,
    memory: Option<Arc<dyn Memory>>,
) -> anyhow::Result<ToolRegistry> {
    let root = match workspace {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let sandbox = Sandbox::new(&root)
        .map_err(|e| UserError::not_found(format!("workspace {}: {e}", root.display())))?;
    let mut tools = ToolRegistry::new();
    tools
        .register(Calculator)?
        .register(Clock::new())?
        .register(HttpFetch::new())?
        .register(ReadFile::new(sandbox.clone()))?
        .register(ListFiles::new(sandbox.clone()))?
        .register(WriteFile::new(sandbox.clone()))?
        .register(ImageTool::new().with_sandbox(sandbox))?;
    if let Some(memory) = memory {
        tools.register(Recall::new(memory))?;
    }
    Ok(tools)
}

/// Loads an image from a path or URL for a user message.
pub(crate) async fn load_image(source: &str) -> anyhow::Result<ImageRef> {
    match ImageLoader::new().load(source).await {
        Ok(loaded) => Ok(loaded.reference),
        Err(ImageLoadError::Io { path, source: io })
            if io.kind() == std::io::ErrorKind::NotFound =>
        {
            Err(UserError::not_found(format!("image {} does not exist", path.display())).into())
        }
        Err(error) => Err(UserError::invalid(format!("image {source}: {error}")).into()),
    }
}
