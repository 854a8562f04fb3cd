//! The assistant both `run` and `chat` drive: a model, the built-in tools, memory, approval.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use argus_core::{Agent, ApprovalHook, ImageCache, ImageRef, Memory, ToolChoice};
use argus_memory::SqliteMemory;
use argus_tools::{
    Calculator, Clock, HttpFetch, ImageTool, ListFiles, ReadFile, Recall, Sandbox, WriteFile,
};
use argus_vision::{ImageLoadError, ImageLoader};

use crate::commands::sessions::DbArgs;
use crate::exit::UserError;
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
    /// Run side-effecting tools (e.g. write_file) without asking.
    #[arg(long)]
    pub(crate) yes: bool,
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
    /// Builds the agent on `session` (with SQLite memory) or without memory.
    pub(crate) async fn build(
        &self,
        session: Option<&str>,
        approval: impl ApprovalHook + 'static,
    ) -> anyhow::Result<(Agent, Option<SqliteMemory>)> {
        self.db.check()?;
        let memory = match session {
            Some(_) => Some(self.db.open().await?),
            None => None,
        };
        // One cache for the conversation's images: the agent's, its tools' and the model's.
        let images = ImageCache::new();
        let model = self.model.load(&images).await?;
        let mut builder = Agent::builder()
            .shared_model(model)
            .image_cache(images)
            .system_prompt(self.system.clone())
            .tool_choice(self.tool_choice.clone())
            .max_steps(self.max_steps)
            .max_tokens(self.max_tokens);
        if !self.no_tools {
            let root = match &self.workspace {
                Some(dir) => dir.clone(),
                None => std::env::current_dir().context("cannot read the current directory")?,
            };
            let sandbox = Sandbox::new(&root)
                .map_err(|e| UserError::not_found(format!("workspace {}: {e}", root.display())))?;
            builder = builder
                .tool(Calculator)
                .tool(Clock::new())
                .tool(HttpFetch::new())
                .tool(ReadFile::new(sandbox.clone()))
                .tool(ListFiles::new(sandbox.clone()))
                .tool(WriteFile::new(sandbox.clone()))
                .tool(ImageTool::new().with_sandbox(sandbox));
            if let Some(memory) = &memory {
                let shared: Arc<dyn Memory> = Arc::new(memory.clone());
                builder = builder.tool(Recall::new(shared));
            }
        }
        if let (Some(memory), Some(session)) = (&memory, session) {
            builder = builder.memory(memory.clone()).session(session);
        }
        builder = if self.yes {
            builder.approval(ApproveAll)
        } else {
            builder.approval(approval)
        };
        Ok((builder.build()?, memory))
    }
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
