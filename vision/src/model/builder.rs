//! [`MistralRsModelBuilder`]: the options of a [`MistralRsModel`], then loading it.

use std::sync::Arc;

use argus_core::{GrammarBounds, ImageCache, ToolPromptFormat};

use super::error::LoadError;
use super::grammar::grammar_stop_ids;
use super::inspect::ModelKind;
use super::messages::PromptSettings;
use super::options::{Device, Isq, ModelOptions, ModelSource, PromptMode, WeightDtype};
use super::template::TemplateRoles;
use super::usage::PrefixTracker;
use super::{inspect, load, window, Inner, MistralRsModel};

/// Tokens counted per image for vision models whose images become many prompt tokens (the
/// kernel's estimate).
const IMAGE_TOKENS_ESTIMATE: usize = 1600;
use crate::images::ImageLoader;

/// Builds a [`MistralRsModel`]: set options, then [`build`](MistralRsModelBuilder::build).
#[derive(Debug, Clone)]
pub struct MistralRsModelBuilder {
    options: ModelOptions,
    image_cache: Option<ImageCache>,
}

impl MistralRsModelBuilder {
    /// Starts from [`ModelOptions::new`], with a cache of the model's own.
    pub(super) fn new(source: ModelSource) -> Self {
        MistralRsModelBuilder {
            options: ModelOptions::new(source),
            image_cache: None,
        }
    }

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

    /// Allows an accelerator when one is compiled in (the default forces the CPU): the same
    /// as [`with_device`](Self::with_device)`(Device::Auto)`.
    pub fn allow_accelerator(mut self) -> Self {
        self.options.device = Device::Auto;
        self
    }

    /// Sets the device (default [`Device::Cpu`]). The dtype stays as set: pair it with
    /// [`Device::default_dtype`] for the device's usual one.
    pub fn with_device(mut self, device: Device) -> Self {
        self.options.device = device;
        self
    }

    /// Sets how requests become prompts (default: chosen from the model, see
    /// [`ModelOptions::prompt_mode`]).
    pub fn with_prompt_mode(mut self, mode: PromptMode) -> Self {
        self.options.prompt_mode = Some(mode);
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
        load::check_device(&options)?;
        let inspected = inspect::inspect(&options)?;
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
        let engine_window = model.max_sequence_length().ok().flatten();
        let context_length = window::context_length(inspected.context_length, engine_window);
        let prompt_mode = options
            .prompt_mode
            .unwrap_or(if inspected.chat_template.is_some() {
                PromptMode::Chat
            } else {
                PromptMode::Completion
            });
        let token_counter = match (&options.source, &inspected.kind) {
            (ModelSource::Dir(dir), kind) => {
                // mllama attends to images across layers: an image is one `<|image|>` token.
                let image_tokens = match kind {
                    ModelKind::Vision { architecture, .. }
                        if architecture == "MllamaForConditionalGeneration" =>
                    {
                        1
                    }
                    _ => IMAGE_TOKENS_ESTIMATE,
                };
                Some(window::token_counter(
                    dir.join("tokenizer.json"),
                    image_tokens,
                ))
            }
            _ => None,
        };
        tracing::debug!(?context_length, ?prompt_mode, "model window");
        Ok(MistralRsModel {
            inner: Arc::new(Inner {
                context_length,
                token_counter,
                prompt_mode,
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
