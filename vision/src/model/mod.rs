//! [`MistralRsModel`]: a [`ChatModel`] served by an in-process mistral.rs engine.

mod error;
mod grammar;
mod load;
mod messages;
mod options;
mod stream;
mod template;
mod usage;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use argus_core::{
    async_trait, ChatModel, ChatRequest, ChatResponse, ChatStream, ImageCache, ImageRef,
    ModelError, StreamEvent,
};
use image::DynamicImage;
use mistralrs::{ModelCategory, Response};

use crate::images::ImageLoader;
use load::ModelKind;
use messages::{OutputMode, PromptSettings};
use stream::{engine_error, Assembler};
use template::TemplateRoles;
use usage::PrefixTracker;

pub use error::LoadError;
pub use options::{GrammarBounds, Isq, ModelOptions, ModelSource, ToolPromptFormat, WeightDtype};

/// An image decoded and resized for the model, kept in the [`ImageCache`] beside its bytes (a
/// conversation resends its images every turn).
struct Pixels {
    /// The longest edge it was resized for.
    max_edge: Option<u32>,
    image: DynamicImage,
}

impl Pixels {
    /// Bytes the pixels take, for the cache's limit.
    fn size(&self) -> usize {
        self.image.as_bytes().len()
    }
}

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
}

impl std::fmt::Debug for MistralRsModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MistralRsModel")
            .field("name", &self.inner.name)
            .field("kind", &self.inner.kind)
            .finish_non_exhaustive()
    }
}

/// Builds a [`MistralRsModel`]: set options, then [`build`](MistralRsModelBuilder::build).
#[derive(Debug, Clone)]
pub struct MistralRsModelBuilder {
    options: ModelOptions,
    image_cache: Option<ImageCache>,
}

impl MistralRsModelBuilder {
    /// Sets every option at once.
    pub fn with_options(mut self, options: ModelOptions) -> Self {
        self.options = options;
        self
    }

    /// Quantises safetensors weights while loading (e.g. [`Isq::Q4K`]).
    pub fn with_isq(mut self, isq: Isq) -> Self {
        self.options.isq = Some(isq);
        self
    }

    /// Sets the weight dtype (default F32).
    pub fn with_dtype(mut self, dtype: WeightDtype) -> Self {
        self.options.dtype = dtype;
        self
    }

    /// Allows an accelerator when one is compiled in (the default forces the CPU).
    pub fn allow_accelerator(mut self) -> Self {
        self.options.force_cpu = false;
        self
    }

    /// Sets how many sequences the prefix cache keeps (0 turns it off).
    pub fn with_prefix_cache(mut self, sequences: usize) -> Self {
        self.options.prefix_cache_n = sequences;
        self
    }

    /// Sets the generation cap for requests without `max_tokens` (default 512).
    pub fn with_default_max_tokens(mut self, tokens: u32) -> Self {
        self.options.default_max_tokens = tokens;
        self
    }

    /// Sets the tool prompt format (default [`ToolPromptFormat::Llama31Json`]).
    pub fn with_tool_format(mut self, format: ToolPromptFormat) -> Self {
        self.options.tool_format = format;
        self
    }

    /// Sets the bounds the tool-call grammar adds to schemas.
    pub fn with_grammar_bounds(mut self, bounds: GrammarBounds) -> Self {
        self.options.grammar = bounds;
        self
    }

    /// Sets the limits for images in requests.
    pub fn with_image_limits(mut self, limits: crate::ImageLimits) -> Self {
        self.options.image_limits = limits;
        self
    }

    /// Keeps decoded images in `cache`, beside their bytes: give the agent the same cache
    /// ([`AgentBuilder::image_cache`](argus_core::AgentBuilder::image_cache)) so a process holds
    /// each image once. Default: a cache of the model's own.
    pub fn with_image_cache(mut self, cache: ImageCache) -> Self {
        self.image_cache = Some(cache);
        self
    }

    /// Sets the longest image edge handed to the model.
    pub fn with_max_image_edge(mut self, edge: u32) -> Self {
        self.options.max_image_edge = Some(edge);
        self
    }

    /// Replaces the model's chat template (a `.json` tokenizer config or a `.jinja` file).
    pub fn with_chat_template(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.options.chat_template = Some(path.into());
        self
    }

    /// Sets the name the model reports.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.options.name = Some(name.into());
        self
    }

    /// The options so far.
    pub fn options(&self) -> &ModelOptions {
        &self.options
    }

    /// Checks the files, then loads the model. Loading runs on the blocking pool; a panic
    /// inside mistral.rs is returned as [`LoadError::Panicked`].
    pub async fn build(self) -> Result<MistralRsModel, LoadError> {
        let options = self.options;
        let inspected = load::inspect(&options)?;
        let started = std::time::Instant::now();
        let model = load::build(&options, &inspected).await?;
        let grammar_stop_ids = grammar_stop_ids(&model).await;
        let category =
            model
                .config()
                .map(|config| config.category)
                .map_err(|e| LoadError::Engine {
                    model: options.source.describe(),
                    reason: e.to_string(),
                })?;
        tracing::info!(
            model = %options.source.describe(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "mistral.rs model loaded"
        );
        let edge = options
            .max_image_edge
            .or(inspected.image_edge)
            .unwrap_or(1120);
        let name = options
            .name
            .clone()
            .unwrap_or_else(|| match &options.source {
                ModelSource::Dir(path) | ModelSource::Gguf(path) => path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| path.display().to_string()),
                other => other.describe(),
            });
        Ok(MistralRsModel {
            inner: Arc::new(Inner {
                model,
                category,
                kind: inspected.kind,
                name,
                settings: PromptSettings {
                    format: options.tool_format,
                    bounds: options.grammar,
                    default_max_tokens: options.default_max_tokens,
                    roles: inspected
                        .chat_template
                        .as_deref()
                        .map_or(TemplateRoles::LLAMA, TemplateRoles::from_template),
                    grammar_stop_ids,
                },
                loader: ImageLoader::new()
                    .with_limits(options.image_limits)
                    .with_max_edge(edge),
                images: self.image_cache.unwrap_or_default(),
                prefix: PrefixTracker::new(options.prefix_cache_n),
            }),
        })
    }
}

/// The token names llguidance's token trie takes as end of sequence (the last of them in the
/// vocabulary's added tokens wins). A complete grammar forces that token, which need not be
/// one of the model's own end tokens: Gemma's vocabulary has `</s>` besides `<eos>`, and
/// without stopping on it a forced call would pad itself with `</s>` up to the length limit.
pub(crate) const GRAMMAR_EOS_NAMES: [&str; 5] = [
    "</s>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<｜end▁of▁sentence｜>",
    "<eos>",
];

/// The ids of [`GRAMMAR_EOS_NAMES`] that are single tokens of the model's vocabulary.
async fn grammar_stop_ids(model: &mistralrs::Model) -> Vec<u32> {
    let mut ids = Vec::new();
    for name in GRAMMAR_EOS_NAMES {
        let text = either::Either::Right(name.to_string());
        if let Ok(tokens) = model.tokenize(text, None, false, false, None).await {
            if let [id] = tokens[..] {
                ids.push(id);
            }
        }
    }
    ids
}

impl MistralRsModel {
    /// A builder with the CPU defaults of [`ModelOptions::new`].
    pub fn builder(source: ModelSource) -> MistralRsModelBuilder {
        MistralRsModelBuilder {
            options: ModelOptions::new(source),
            image_cache: None,
        }
    }

    /// Whether the model takes images.
    pub fn accepts_images(&self) -> bool {
        matches!(self.inner.kind, ModelKind::Vision { .. } | ModelKind::Hub)
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

    /// The cache holding the model's decoded images.
    pub fn image_cache(&self) -> &ImageCache {
        &self.inner.images
    }

    /// Decodes the request's images (cached by hash across turns, in the image cache).
    async fn decode_images(
        &self,
        request: &ChatRequest,
    ) -> Result<HashMap<String, DynamicImage>, ModelError> {
        let mut decoded = HashMap::new();
        let mut missing = Vec::new();
        for image in request.messages.iter().flat_map(|m| m.images()) {
            if decoded.contains_key(&image.sha256) {
                continue;
            }
            if !self.accepts_images() {
                return Err(ModelError::InvalidRequest(format!(
                    "{} is a text model and cannot take images",
                    self.inner.name
                )));
            }
            let max_edge = self.inner.loader.max_edge();
            let cached = self
                .inner
                .images
                .derived::<Pixels>(&image.sha256)
                .filter(|pixels| pixels.max_edge == max_edge);
            match cached {
                Some(pixels) => {
                    decoded.insert(image.sha256.clone(), pixels.image.clone());
                }
                None => missing.push(self.with_bytes(image)),
            }
        }
        if missing.is_empty() {
            return Ok(decoded);
        }
        let loader = self.inner.loader.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            missing
                .iter()
                .map(|image| {
                    loader
                        .load_ref(image)
                        .map(|l| (image.sha256.clone(), l.image))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| stream::backend("image decoding failed", e))?
        .map_err(|e| ModelError::InvalidRequest(format!("image: {e}")))?;
        let max_edge = self.inner.loader.max_edge();
        for (sha256, image) in &loaded {
            let pixels = Pixels {
                max_edge,
                image: image.clone(),
            };
            let size = pixels.size();
            self.inner
                .images
                .insert_derived(sha256, Arc::new(pixels), size);
        }
        decoded.extend(loaded);
        Ok(decoded)
    }

    /// `image` with its bytes from the image cache when the request carries none.
    fn with_bytes(&self, image: &ImageRef) -> ImageRef {
        match image.data {
            Some(_) => image.clone(),
            None => self
                .inner
                .images
                .get(&image.sha256)
                .unwrap_or_else(|| image.clone()),
        }
    }

    /// Builds and sends the request; returns the response receiver and the output mode.
    async fn start(
        &self,
        request: &ChatRequest,
        streaming: bool,
    ) -> Result<(tokio::sync::mpsc::Receiver<Response>, OutputMode, usize), ModelError> {
        let images = self.decode_images(request).await?;
        let (builder, mode) = messages::build_request(request, &images, &self.inner.settings)?;
        let hits = self.prefix_cache_stats().0;
        let rx = stream::send(&self.inner.model, &self.inner.category, builder, streaming).await?;
        Ok((rx, mode, hits))
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
        let mut assembler = Assembler::new(mode);
        assembler.push(choice.message.content.as_deref().unwrap_or_default());
        let finished = assembler.finish();
        let mut response = stream::response(&finished, &choice.finish_reason);
        response.usage = self.finish_usage(&request, Some(&done.usage), hits, &finished.raw);
        Ok(response)
    }

    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        let (rx, mode, hits) = self.start(&request, true).await?;
        let state = StreamState {
            model: self.clone(),
            request,
            rx,
            assembler: Some(Assembler::new(mode)),
            pending: VecDeque::new(),
            hits,
            done: false,
            chunks: 0,
        };
        Ok(Box::pin(futures::stream::unfold(
            state,
            |mut state| async move {
                let event = state.next().await?;
                Some((event, state))
            },
        )))
    }

    fn name(&self) -> &str {
        &self.inner.name
    }
}

/// The state of one streamed response.
struct StreamState {
    model: MistralRsModel,
    request: ChatRequest,
    rx: tokio::sync::mpsc::Receiver<Response>,
    assembler: Option<Assembler>,
    pending: VecDeque<Result<StreamEvent, ModelError>>,
    hits: usize,
    done: bool,
    /// Chunks with a choice received so far (one per generated token).
    chunks: usize,
}

impl StreamState {
    /// mistral.rs 0.8.1 sends no final chunk when generation ends inside an incomplete UTF-8
    /// sequence (its delta is held back and the finish reason with it) and then closes the
    /// channel. Generation did end, so the response is completed from what arrived: the finish
    /// reason is `Length` when one chunk per token reached the cap, else `Stop`; the engine's
    /// usage is lost, so only the completion tokens (one per chunk) are counted.
    fn closed_without_finish(&mut self) -> Option<Result<StreamEvent, ModelError>> {
        let Some(assembler) = self.assembler.take().filter(|_| self.chunks > 0) else {
            return Some(Err(ModelError::backend(
                "the engine closed the stream before it finished",
            )));
        };
        tracing::warn!(
            chunks = self.chunks,
            "mistral.rs closed the stream without a final chunk; completing the response"
        );
        let finished = assembler.finish();
        if !finished.tail.is_empty() {
            self.pending.push_back(Ok(StreamEvent::TextDelta {
                text: finished.tail.clone(),
            }));
        }
        let cap = self
            .request
            .max_tokens
            .unwrap_or(self.model.inner.settings.default_max_tokens)
            .max(1) as usize;
        let reason = if self.chunks >= cap { "length" } else { "stop" };
        let mut response = stream::response(&finished, reason);
        response.usage.completion_tokens = self.chunks as u64;
        for call in &response.message.tool_calls {
            self.pending
                .push_back(Ok(StreamEvent::ToolCall { call: call.clone() }));
        }
        self.pending.push_back(Ok(StreamEvent::Done { response }));
        self.pending.pop_front()
    }

    async fn next(&mut self) -> Option<Result<StreamEvent, ModelError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.done {
                return None;
            }
            let Some(response) = self.rx.recv().await else {
                self.done = true;
                return self.closed_without_finish();
            };
            if let Some(error) = engine_error(&response) {
                self.done = true;
                return Some(Err(error));
            }
            let Response::Chunk(chunk) = response else {
                continue;
            };
            let Some(choice) = chunk.choices.first() else {
                continue;
            };
            self.chunks += 1;
            let assembler = self.assembler.as_mut()?;
            if let Some(delta) = choice.delta.content.as_deref() {
                let shown = assembler.push(delta);
                if !shown.is_empty() {
                    self.pending
                        .push_back(Ok(StreamEvent::TextDelta { text: shown }));
                }
            }
            if let Some(reason) = &choice.finish_reason {
                let finished = self.assembler.take()?.finish();
                if !finished.tail.is_empty() {
                    self.pending.push_back(Ok(StreamEvent::TextDelta {
                        text: finished.tail.clone(),
                    }));
                }
                let mut response = stream::response(&finished, reason);
                response.usage = self.model.finish_usage(
                    &self.request,
                    chunk.usage.as_ref(),
                    self.hits,
                    &finished.raw,
                );
                for call in &response.message.tool_calls {
                    self.pending
                        .push_back(Ok(StreamEvent::ToolCall { call: call.clone() }));
                }
                self.pending.push_back(Ok(StreamEvent::Done { response }));
                self.done = true;
            }
        }
    }
}
