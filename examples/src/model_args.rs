//! Choosing the model a command runs on.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use argus_core::{ChatModel, ReplayModel};

/// Model selection shared by `run`, `chat` and `eval`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ModelArgs {
    /// A local model directory, a local `.gguf` file, or a model-hub id.
    #[arg(long, conflicts_with = "replay")]
    pub(crate) model: Option<String>,
    /// Replay recorded responses (JSONL, one response per line) instead of running a model.
    #[arg(long)]
    pub(crate) replay: Option<PathBuf>,
}

impl ModelArgs {
    /// Loads the chosen model.
    pub(crate) async fn load(&self) -> anyhow::Result<Arc<dyn ChatModel>> {
        if let Some(path) = &self.replay {
            let model = ReplayModel::from_file(path).context("cannot load the replay file")?;
            return Ok(Arc::new(model));
        }
        match &self.model {
            Some(model) => bail!("cannot load `{model}`: this build has no model runtime"),
            None => bail!("no model given: pass --model PATH or --replay FILE"),
        }
    }
}
