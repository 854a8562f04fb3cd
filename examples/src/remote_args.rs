//! A model on an OpenAI-compatible inference server: `--api-base URL --model NAME`.

use std::sync::Arc;

use argus_core::{ChatModel, ImageCache, ToolPromptFormat};
use argus_openai::{ApiKey, OpenAiModel, ToolCallMode};

use crate::exit::UserError;

/// How a server returns tool calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum RemoteToolCalls {
    /// The server parses calls itself and returns them in `tool_calls` (vLLM with a tool
    /// parser, SGLang, llama.cpp with --jinja, Ollama, OpenAI).
    Native,
    /// The server returns text; Argus describes the tools in the prompt and parses the calls
    /// (mistralrs-server, servers without a tool parser).
    Text,
}

/// Remote model selection shared by `run`, `chat` and `eval`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RemoteArgs {
    /// The API base of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (vLLM,
    /// SGLang, llama.cpp's llama-server, Ollama, mistralrs-server). --model then names the
    /// model the server serves.
    #[arg(long, value_name = "URL", conflicts_with = "replay")]
    pub(crate) api_base: Option<String>,
    /// The environment variable that holds the server's API key (unset or empty: none is sent).
    #[arg(long, value_name = "VAR", default_value = "OPENAI_API_KEY")]
    pub(crate) api_key_env: String,
    /// How the server returns tool calls: native (default) or text (parsed by Argus in the
    /// --tool-format, detected from the model name when not given).
    #[arg(long, value_name = "MODE", requires = "api_base")]
    pub(crate) tool_calls: Option<RemoteToolCalls>,
    /// The served model's context window in tokens, which sizes a chat's context (default: what
    /// the server's model listing reports, e.g. vLLM's max_model_len).
    #[arg(long, value_name = "TOKENS", requires = "api_base")]
    pub(crate) context_length: Option<usize>,
}

impl RemoteArgs {
    /// The remote model, when `--api-base` is given; its context window from
    /// `--context-length`, else from the server where it reports one.
    pub(crate) async fn load(
        &self,
        model: Option<&str>,
        tool_format: Option<ToolPromptFormat>,
        images: &ImageCache,
    ) -> anyhow::Result<Option<Arc<dyn ChatModel>>> {
        let Some(base) = &self.api_base else {
            return Ok(None);
        };
        let name = model.ok_or_else(|| {
            UserError::usage(format!(
                "--api-base needs --model NAME, the name {base} serves the model under \
                 (GET {base}/models lists them)"
            ))
        })?;
        let mode = match (self.tool_calls, tool_format) {
            (Some(RemoteToolCalls::Native), _) | (None, None) => ToolCallMode::Native,
            (Some(RemoteToolCalls::Text), format) | (None, format @ Some(_)) => ToolCallMode::Text(
                format
                    .or_else(|| ToolPromptFormat::from_model_name(name))
                    .unwrap_or_default(),
            ),
        };
        let mut builder = OpenAiModel::builder(base.as_str(), name)
            .with_api_key(ApiKey::from_env(&self.api_key_env))
            .with_tool_calls(mode)
            .with_image_cache(images.clone());
        if let Some(tokens) = self.context_length {
            builder = builder.with_context_length(tokens);
        }
        let model = builder
            .build()
            .map_err(|e| UserError::usage(format!("--api-base: {e}")))?
            .discover_context_length()
            .await?;
        Ok(Some(Arc::new(model)))
    }
}
