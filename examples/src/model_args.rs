//! Choosing the model a command runs on: one run in this process by mistral.rs (feature
//! `local`, on by default), one on an inference server (`--api-base`), or a replay file.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use argus_core::{ChatModel, ImageCache, ReplayModel, ToolPromptFormat};

use crate::exit::UserError;
#[cfg(feature = "local")]
use crate::local_model::LocalArgs;
use crate::remote_args::RemoteArgs;

/// Model selection shared by `run`, `chat` and `eval`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ModelArgs {
    /// A preset name (see `argus models list`), a local model directory, a local `.gguf` file,
    /// or a model-hub id; with --api-base, the name the server serves. Default: the
    /// llama-3.2-11b-vision preset.
    #[arg(long, conflicts_with = "replay")]
    pub(crate) model: Option<String>,
    /// Replay recorded responses (JSONL, one response per line) instead of running a model.
    #[arg(long)]
    pub(crate) replay: Option<PathBuf>,
    /// Write every model response to this JSONL file (replay it later with --replay).
    #[arg(long)]
    pub(crate) record: Option<PathBuf>,
    /// Tool prompt format: llama31_json or llama32_pythonic (default: the preset's, else JSON).
    #[arg(long)]
    pub(crate) tool_format: Option<ToolPromptFormat>,
    /// A model run in this process.
    #[cfg(feature = "local")]
    #[command(flatten)]
    pub(crate) local: LocalArgs,
    /// A model on an inference server instead.
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
}

impl ModelArgs {
    /// Loads the chosen model, with a spinner on stderr while it loads; a mistral.rs model
    /// keeps its decoded images in `images`.
    pub(crate) async fn load(&self, images: &ImageCache) -> anyhow::Result<Arc<dyn ChatModel>> {
        let model = self.load_inner(images).await?;
        match &self.record {
            Some(path) => Ok(Arc::new(
                argus_core::RecordingModel::new(model, path)
                    .context("cannot open the recording file")?,
            )),
            None => Ok(model),
        }
    }

    async fn load_inner(&self, images: &ImageCache) -> anyhow::Result<Arc<dyn ChatModel>> {
        if let Some(path) = &self.replay {
            if !path.exists() {
                return Err(UserError::not_found(format!(
                    "replay file {} does not exist",
                    path.display()
                ))
                .into());
            }
            let model = ReplayModel::from_file(path).map_err(|e| {
                UserError::invalid(format!("cannot replay: {:#}", anyhow::Error::from(e)))
            })?;
            return Ok(Arc::new(model));
        }
        if let Some(model) = self
            .remote
            .load(self.model.as_deref(), self.tool_format, images)
            .await?
        {
            return Ok(model);
        }
        self.load_local(images).await
    }

    #[cfg(feature = "local")]
    async fn load_local(&self, images: &ImageCache) -> anyhow::Result<Arc<dyn ChatModel>> {
        self.local
            .load(self.model.as_deref(), self.tool_format, images)
            .await
    }

    #[cfg(not(feature = "local"))]
    async fn load_local(&self, _images: &ImageCache) -> anyhow::Result<Arc<dyn ChatModel>> {
        Err(UserError::usage(
            "this argus was built without local models (the `local` feature): use --api-base URL \
             --model NAME for a model on an inference server, or --replay FILE",
        )
        .into())
    }
}
