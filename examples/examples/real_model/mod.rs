//! The real model an example runs on: one run in this process by mistral.rs (`--model PATH`, a
//! model directory or a `.gguf` file, or `ARGUS_MODEL=PATH`) or one on an inference server
//! (`--api-base URL --model NAME`).

use std::sync::Arc;

use argus_core::ChatModel;
use argus_openai::OpenAiModel;
use argus_vision::{MistralRsModel, ModelSource};

/// Where the model comes from, and the arguments left after `--model` and `--api-base`.
#[derive(Debug)]
pub(crate) struct RealArgs {
    /// A model directory or `.gguf` file, or the name a server serves.
    pub(crate) model: String,
    /// The server's base URL (`http://HOST:PORT/v1`), when the model runs on one.
    pub(crate) api_base: Option<String>,
    /// The other arguments, in order.
    pub(crate) rest: Vec<String>,
}

impl RealArgs {
    /// Reads `--model X` and `--api-base URL` out of `args` (`ARGUS_MODEL` when there is no
    /// `--model`); `None` when no model is named.
    pub(crate) fn parse(args: &[String]) -> Option<RealArgs> {
        let mut model = None;
        let mut api_base = None;
        let mut rest = Vec::new();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--model" => model = Some(args.next()?.clone()),
                "--api-base" => api_base = Some(args.next()?.clone()),
                _ => rest.push(arg.clone()),
            }
        }
        let model = model.or_else(|| std::env::var("ARGUS_MODEL").ok())?;
        Some(RealArgs {
            model,
            api_base,
            rest,
        })
    }

    /// Loads the model.
    pub(crate) async fn load(&self) -> anyhow::Result<Arc<dyn ChatModel>> {
        if let Some(base) = &self.api_base {
            return Ok(Arc::new(OpenAiModel::builder(base, &self.model).build()?));
        }
        let source = if self.model.ends_with(".gguf") {
            ModelSource::gguf(&self.model)
        } else {
            ModelSource::dir(&self.model)
        };
        Ok(Arc::new(MistralRsModel::builder(source).build().await?))
    }
}
