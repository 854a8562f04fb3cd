//! A remote chat model over the OpenAI Chat Completions API, for Argus agents whose model runs
//! on an inference server: vLLM, SGLang, llama.cpp's `llama-server`, Ollama, mistral.rs's
//! `mistralrs-server`, or OpenAI itself.
//!
//! ```no_run
//! use argus_core::Agent;
//! use argus_openai::{ApiKey, OpenAiModel};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let model = OpenAiModel::builder("http://127.0.0.1:8000/v1", "meta-llama/Llama-3.2-11B-Vision-Instruct")
//!     .with_api_key(ApiKey::from_env("OPENAI_API_KEY"))
//!     .build()?;
//! let agent = Agent::builder().model(model).build()?;
//! let output = agent.run("What is 2 + 2?").await?;
//! # Ok(())
//! # }
//! ```
//!
//! Streaming and whole answers, tool calls parsed by the server ([`ToolCallMode::Native`]) or
//! by Argus from the text ([`ToolCallMode::Text`]), images as `data:` URLs, retries with
//! backoff on connection failures, 429 and 5xx (never once an answer has started), and
//! connect, first-byte and idle timeouts. Failures are typed ([`RemoteError`]) and carry the
//! server's own message; the API key never appears in them, in logs or in `Debug` output.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod config;
mod decode;
mod discover;
mod encode;
mod error;
mod http;
mod stream;

use std::sync::Arc;

use argus_core::{
    async_trait, ChatModel, ChatRequest, ChatResponse, ChatStream, ImageCache, ModelError,
    OutputMode,
};

pub use config::{ApiKey, RemoteOptions, RetryPolicy, Timeouts, ToolCallMode};
pub use error::{RemoteError, TimeoutPhase};

use decode::Completion;
use http::Http;

/// A chat model served over the OpenAI Chat Completions API. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OpenAiModel {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    options: RemoteOptions,
    http: Http,
    images: Option<ImageCache>,
}

impl OpenAiModel {
    /// A builder for `model` served at `base_url` (the API base, e.g. `http://HOST:PORT/v1`).
    pub fn builder(base_url: impl Into<String>, model: impl Into<String>) -> OpenAiModelBuilder {
        OpenAiModelBuilder {
            options: RemoteOptions::new(base_url, model),
            images: None,
        }
    }

    /// The options it was built with.
    pub fn options(&self) -> &RemoteOptions {
        &self.inner.options
    }

    /// Asks the server for the model's context window when none was declared: `GET
    /// {base}/models`, reading vLLM's `max_model_len`, llama.cpp's `meta.n_ctx_train` or a
    /// `context_length`. A server that reports none (or lists no models) leaves it unknown; a
    /// server that cannot be reached, or refuses the key, is an error.
    pub async fn discover_context_length(self) -> Result<Self, ModelError> {
        if self.inner.options.context_length.is_some() {
            return Ok(self);
        }
        let body = match self.inner.http.get("models").await {
            Ok(response) => self.inner.http.read_body(response).await?,
            Err(error) if lists_no_models(&error) => return Ok(self),
            Err(error) => return Err(error),
        };
        let Some(tokens) = discover::context_window(&body, &self.inner.options.model) else {
            return Ok(self);
        };
        let mut options = self.inner.options.clone();
        options.context_length = Some(tokens);
        Ok(OpenAiModel {
            inner: Arc::new(Inner {
                options,
                http: self.inner.http.clone(),
                images: self.inner.images.clone(),
            }),
        })
    }

    /// How the answer's text is read: `Some` when calls come back as text.
    fn text_mode(&self, mode: OutputMode) -> Option<OutputMode> {
        match self.inner.options.tool_calls {
            ToolCallMode::Native => None,
            ToolCallMode::Text(_) => Some(mode),
        }
    }
}

/// Whether a failed `GET /models` means only that the server has no such listing.
fn lists_no_models(error: &ModelError) -> bool {
    let ModelError::Backend {
        source: Some(source),
        ..
    } = error
    else {
        return false;
    };
    matches!(
        source.downcast_ref::<RemoteError>(),
        Some(RemoteError::ModelNotFound { .. } | RemoteError::Rejected { .. })
    )
}

/// Settings of an [`OpenAiModel`]; [`build`](OpenAiModelBuilder::build) checks them. Nothing
/// is sent until the first request.
#[derive(Debug, Clone)]
#[must_use]
pub struct OpenAiModelBuilder {
    options: RemoteOptions,
    images: Option<ImageCache>,
}

impl OpenAiModelBuilder {
    /// Sends this key as a bearer token (`None`, as from an unset variable, sends none).
    pub fn with_api_key(mut self, key: Option<ApiKey>) -> Self {
        self.options.api_key = key;
        self
    }

    /// How tool calls travel (default [`ToolCallMode::Native`]).
    pub fn with_tool_calls(mut self, mode: ToolCallMode) -> Self {
        self.options.tool_calls = mode;
        self
    }

    /// Sends `parallel_tool_calls` with native tools.
    pub fn with_parallel_tool_calls(mut self, parallel: bool) -> Self {
        self.options.parallel_tool_calls = Some(parallel);
        self
    }

    /// Sets the timeouts.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.options.timeouts = timeouts;
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.options.retry = retry;
        self
    }

    /// Declares the model's context window in tokens.
    pub fn with_context_length(mut self, tokens: usize) -> Self {
        self.options.context_length = Some(tokens);
        self
    }

    /// The `max_tokens` sent when a request sets none (default 512).
    pub fn with_default_max_tokens(mut self, tokens: u32) -> Self {
        self.options.default_max_tokens = tokens;
        self
    }

    /// The largest response body read (default 32 MiB).
    pub fn with_max_response_bytes(mut self, bytes: u64) -> Self {
        self.options.max_response_bytes = bytes;
        self
    }

    /// Where images that arrive without their bytes are looked up (share the agent's cache).
    pub fn with_image_cache(mut self, images: ImageCache) -> Self {
        self.images = Some(images);
        self
    }

    /// Replaces all options.
    pub fn with_options(mut self, options: RemoteOptions) -> Self {
        self.options = options;
        self
    }

    /// Checks the URL and key and builds the model.
    pub fn build(self) -> Result<OpenAiModel, ModelError> {
        let http = Http::new(&self.options).map_err(ModelError::InvalidRequest)?;
        Ok(OpenAiModel {
            inner: Arc::new(Inner {
                options: self.options,
                http,
                images: self.images,
            }),
        })
    }
}

#[async_trait]
impl ChatModel for OpenAiModel {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        let inner = &self.inner;
        let (body, mode) =
            encode::request_body(&request, &inner.options, inner.images.as_ref(), false)?;
        let response = inner.http.post(&body).await?;
        let bytes = inner.http.read_body(response).await?;
        let completion: Completion = serde_json::from_slice(&bytes).map_err(|e| {
            ModelError::from(RemoteError::InvalidResponse {
                url: inner.http.shown_url.clone(),
                reason: e.to_string(),
            })
        })?;
        completion
            .into_response(self.text_mode(mode))
            .map_err(|reason| {
                RemoteError::InvalidResponse {
                    url: inner.http.shown_url.clone(),
                    reason,
                }
                .into()
            })
    }

    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        let inner = &self.inner;
        let (body, mode) =
            encode::request_body(&request, &inner.options, inner.images.as_ref(), true)?;
        let response = inner.http.post(&body).await?;
        Ok(stream::events(
            self.inner.clone(),
            response,
            self.text_mode(mode),
        ))
    }

    fn name(&self) -> &str {
        &self.inner.options.model
    }

    fn context_length(&self) -> Option<usize> {
        self.inner.options.context_length
    }
}
