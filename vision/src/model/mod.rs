//! [`MistralRsModel`]: a [`ChatModel`] served by an in-process mistral.rs engine.

mod builder;
mod chat_stream;
mod completion;
mod error;
mod grammar;
mod inspect;
mod load;
mod messages;
mod options;
mod pixels;
mod quantize;
mod stream;
mod template;
mod usage;
mod window;

use std::sync::Arc;

use argus_core::{
    async_trait, CallAssembler, ChatModel, ChatRequest, ChatResponse, ChatStream, ImageCache,
    ModelError, OutputMode, VisionStrategy,
};
use mistralrs::{ModelCategory, Response};

use crate::images::ImageLoader;
use chat_stream::StreamState;
use inspect::ModelKind;
use messages::PromptSettings;
use stream::engine_error;
use usage::PrefixTracker;

pub use argus_core::{GrammarBounds, ToolPromptFormat};
pub use builder::MistralRsModelBuilder;
pub use error::LoadError;
pub use options::{Device, Isq, ModelOptions, ModelSource, PromptMode, WeightDtype};

/// A chat model run by mistral.rs in this process: Llama 3.2 Vision and the other multimodal
/// models mistral.rs supports, text models from safetensors directories, and GGUF files.
///
/// Built with [`MistralRsModel::builder`]; the defaults suit a CPU (see [`ModelOptions`]).
/// Cheap to clone: the engine is shared.
///
/// ```no_run
/// use argus_core::{ChatModel, ChatRequest, Message};
/// use argus_vision::{ImageLoader, MistralRsModel, ModelSource};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let model = MistralRsModel::builder(ModelSource::dir("models/Llama-3.2-11B-Vision-Instruct"))
///     .with_isq(argus_vision::Isq::Q4K)
///     .build()
///     .await?;
/// let photo = ImageLoader::new().load("photo.jpg").await?;
/// let request = ChatRequest::new(vec![Message::user_with_images(
///     "What is in this picture?",
///     vec![photo.reference],
/// )]);
/// let answer = model.chat(request).await?;
/// println!("{}", answer.message.text());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MistralRsModel {
    inner: Arc<Inner>,
}

struct Inner {
    model: mistralrs::Model,
    category: ModelCategory,
    kind: ModelKind,
    name: String,
    settings: PromptSettings,
    loader: ImageLoader,
    images: ImageCache,
    prefix: PrefixTracker,
    /// The context window in tokens, when known.
    context_length: Option<usize>,
    /// Counts messages with the model's own tokenizer (local directories).
    token_counter: Option<argus_core::TokenCounter>,
    /// Chat or raw completion.
    prompt_mode: PromptMode,
}

impl std::fmt::Debug for MistralRsModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MistralRsModel")
            .field("name", &self.inner.name)
            .field("kind", &self.inner.kind)
            .finish_non_exhaustive()
    }
}

impl MistralRsModel {
    /// A builder with the CPU defaults of [`ModelOptions::new`].
    pub fn builder(source: ModelSource) -> MistralRsModelBuilder {
        MistralRsModelBuilder::new(source)
    }

    /// Whether the model takes images.
    pub fn accepts_images(&self) -> bool {
        matches!(
            self.inner.kind,
            ModelKind::Vision {
                takes_images: true,
                ..
            } | ModelKind::Hub
        )
    }

    /// The image loader requests' images are decoded with (its maximum edge is the model's).
    pub fn image_loader(&self) -> &ImageLoader {
        &self.inner.loader
    }

    /// The mistral.rs model, for direct use (benchmarks, features this wrapper lacks).
    pub fn mistralrs(&self) -> &mistralrs::Model {
        &self.inner.model
    }

    /// mistral.rs's prefix-cache counters: (hits, sequences started) since loading.
    pub fn prefix_cache_stats(&self) -> (usize, usize) {
        self.inner
            .model
            .inner()
            .get_logger(None)
            .map(|logger| logger.prefix_cache_stats())
            .unwrap_or_default()
    }

    /// How requests become prompts: through the chat template, or raw completion.
    pub fn prompt_mode(&self) -> PromptMode {
        self.inner.prompt_mode
    }

    /// The cache holding the model's decoded images.
    pub fn image_cache(&self) -> &ImageCache {
        &self.inner.images
    }

    /// Builds and sends the request; returns the response receiver and the output mode.
    async fn start(
        &self,
        request: &ChatRequest,
        streaming: bool,
    ) -> Result<(tokio::sync::mpsc::Receiver<Response>, OutputMode, usize), ModelError> {
        let images = self.decode_images(request).await?;
        let (builder, mode) = messages::build_request(request, &images, &self.inner.settings)?;
        let builder = self
            .fit_to_window(builder, self.max_tokens(request))
            .await?;
        let hits = self.prefix_cache_stats().0;
        let rx = stream::send(&self.inner.model, &self.inner.category, builder, streaming).await?;
        Ok((rx, mode, hits))
    }

    /// The generation cap a request asks for (the default when it sets none).
    fn max_tokens(&self, request: &ChatRequest) -> usize {
        request
            .max_tokens
            .unwrap_or(self.inner.settings.default_max_tokens)
            .max(1) as usize
    }

    /// Usage with the prefix-cache estimate, and the request remembered for the next one.
    fn finish_usage(
        &self,
        request: &ChatRequest,
        usage: Option<&mistralrs::Usage>,
        hits_before: usize,
        output: &str,
    ) -> argus_core::Usage {
        let mut usage = usage.map(usage::from_mistralrs).unwrap_or_default();
        let hit = self.prefix_cache_stats().0 > hits_before;
        usage.cached_prompt_tokens = self
            .inner
            .prefix
            .estimate(request, hit, usage.prompt_tokens);
        self.inner.prefix.record(request, &usage, output);
        usage
    }
}

#[async_trait]
impl ChatModel for MistralRsModel {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        if self.inner.prompt_mode == PromptMode::Completion {
            return self.complete(&request).await;
        }
        let (mut rx, mode, hits) = self.start(&request, false).await?;
        let response = rx
            .recv()
            .await
            .ok_or_else(|| ModelError::backend("the engine dropped the request"))?;
        if let Some(error) = engine_error(&response) {
            return Err(error);
        }
        let Response::Done(done) = response else {
            return Err(ModelError::backend(
                "mistral.rs sent an unexpected response",
            ));
        };
        let choice = done
            .choices
            .first()
            .ok_or_else(|| ModelError::backend("mistral.rs returned no choices"))?;
        let mut assembler = CallAssembler::new(mode);
        assembler.push(choice.message.content.as_deref().unwrap_or_default());
        let finished = assembler.finish();
        let mut response = finished.response(&choice.finish_reason);
        response.usage = self.finish_usage(&request, Some(&done.usage), hits, &finished.raw);
        Ok(response)
    }

    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        if self.inner.prompt_mode == PromptMode::Completion {
            return self.complete_stream(request).await;
        }
        let (rx, mode, hits) = self.start(&request, true).await?;
        Ok(StreamState::new(self.clone(), request, rx, mode, hits).into_stream())
    }

    fn name(&self) -> &str {
        &self.inner.name
    }

    fn context_length(&self) -> Option<usize> {
        self.inner.context_length
    }

    fn token_counter(&self) -> Option<argus_core::TokenCounter> {
        self.inner.token_counter.clone()
    }

    /// `PerceiveThenAct` for Llama 3.2 Vision (mllama), whose prompt format does not take tool
    /// calls with images; `Direct` for other local models; by name for hub models.
    fn vision_strategy(&self) -> VisionStrategy {
        match &self.inner.kind {
            ModelKind::Vision { architecture, .. }
                if architecture == "MllamaForConditionalGeneration" =>
            {
                VisionStrategy::PerceiveThenAct
            }
            ModelKind::Hub => VisionStrategy::for_model_name(&self.inner.name),
            _ => VisionStrategy::Direct,
        }
    }
}
