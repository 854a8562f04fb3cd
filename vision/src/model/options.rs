//! What to load and how: the source, CPU defaults, quantisation, tool prompt format.

use std::path::PathBuf;
use std::str::FromStr;

use argus_core::{GrammarBounds, ToolPromptFormat};

use crate::images::ImageLimits;

/// Where a model's weights come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModelSource {
    /// A local Hugging Face-style directory: `config.json`, `*.safetensors`, `tokenizer.json`,
    /// `tokenizer_config.json` (with the chat template) and, for vision models,
    /// `preprocessor_config.json`. Multimodal architectures (`MllamaForConditionalGeneration`,
    /// LLaVA, Qwen2-VL, ... — everything mistral.rs 0.8.1 lists) load as vision models, the
    /// rest as text models.
    Dir(PathBuf),
    /// A local GGUF file of a text model; its tokenizer and chat template come from its
    /// metadata. Architectures: llama, mistral3, phi2, phi3, starcoder2, qwen2, qwen3, qwen3moe.
    Gguf(PathBuf),
    /// A model id on the Hugging Face hub (e.g. `meta-llama/Llama-3.2-11B-Vision-Instruct`),
    /// downloaded into the hub cache; the access token is read from the hub's token cache.
    /// The kind of model is detected from its `config.json`.
    Hub {
        /// The repository id.
        model_id: String,
        /// A branch, tag or commit; `None` is `main`.
        revision: Option<String>,
    },
}

impl ModelSource {
    /// A local directory.
    pub fn dir(path: impl Into<PathBuf>) -> Self {
        ModelSource::Dir(path.into())
    }

    /// A local GGUF file.
    pub fn gguf(path: impl Into<PathBuf>) -> Self {
        ModelSource::Gguf(path.into())
    }

    /// A hub model id at its default revision.
    pub fn hub(model_id: impl Into<String>) -> Self {
        ModelSource::Hub {
            model_id: model_id.into(),
            revision: None,
        }
    }

    /// The path or id, for messages.
    pub fn describe(&self) -> String {
        match self {
            ModelSource::Dir(path) | ModelSource::Gguf(path) => path.display().to_string(),
            ModelSource::Hub { model_id, revision } => match revision {
                Some(revision) => format!("{model_id}@{revision}"),
                None => model_id.clone(),
            },
        }
    }
}

/// In-situ quantisation applied to safetensors weights while they load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Isq {
    /// 4-bit k-quants: the usual CPU choice (≈4.5 bits per weight).
    Q4K,
    /// 5-bit k-quants.
    Q5K,
    /// 6-bit k-quants.
    Q6K,
    /// 8-bit blocks.
    Q8_0,
}

/// The dtype unquantised weights and activations use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WeightDtype {
    /// 32-bit floats: the CPU default. (mistral.rs's `Auto` picks F16 on CPU, which produced
    /// NaNs for some models, and BF16 matmuls fail on CPU.)
    #[default]
    F32,
    /// 16-bit floats.
    F16,
    /// bfloat16 (accelerators only).
    Bf16,
    /// Let mistral.rs choose for the device.
    Auto,
}

/// How a request becomes the model's prompt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PromptMode {
    /// The conversation through the model's chat template, with the system prompt and the
    /// tool instructions: for instruction-tuned models.
    #[default]
    Chat,
    /// Raw completion for base models: no chat template and no system prompt; the
    /// conversation's text (one user message: its text as is) is continued. Tools are not
    /// offered (a forced call is refused) and images are refused.
    Completion,
}

/// Where a model runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Device {
    /// The CPU (the default, whatever the build has).
    #[default]
    Cpu,
    /// The accelerator the build has (the `cuda` or `metal` feature) when one is present,
    /// else the CPU.
    Auto,
    /// A CUDA GPU by ordinal (needs the `cuda` feature). mistral.rs 0.8.1 loads on the first
    /// visible GPU, so an ordinal other than 0 is refused: select the GPU with
    /// `CUDA_VISIBLE_DEVICES` instead.
    Cuda(usize),
    /// The Metal GPU (needs the `metal` feature).
    Metal,
}

impl Device {
    /// The Cargo feature of `argus-vision` this device needs, if any.
    pub fn feature(self) -> Option<&'static str> {
        match self {
            Device::Cpu | Device::Auto => None,
            Device::Cuda(_) => Some("cuda"),
            Device::Metal => Some("metal"),
        }
    }

    /// Whether this build can run on the device (its feature is compiled in).
    pub fn is_compiled(self) -> bool {
        match self {
            Device::Cpu | Device::Auto => true,
            Device::Cuda(_) => cfg!(feature = "cuda"),
            Device::Metal => cfg!(feature = "metal"),
        }
    }

    /// [`Device::Auto`] made concrete: a CUDA build with a usable GPU gives `Cuda(0)`, a Metal
    /// build gives `Metal`, anything else `Cpu`. Other devices are returned as they are.
    pub fn resolve(self) -> Device {
        if self != Device::Auto {
            return self;
        }
        match mistralrs::best_device(false) {
            Ok(device) if device.is_cuda() => Device::Cuda(0),
            Ok(device) if device.is_metal() => Device::Metal,
            _ => Device::Cpu,
        }
    }

    /// The weight dtype suited to the device: BF16 on CUDA, F16 on Metal, F32 on the CPU
    /// (and for `Auto`, which may end on the CPU).
    pub fn default_dtype(self) -> WeightDtype {
        match self {
            Device::Cuda(_) => WeightDtype::Bf16,
            Device::Metal => WeightDtype::F16,
            Device::Cpu | Device::Auto => WeightDtype::F32,
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Auto => f.write_str("auto"),
            Device::Cuda(ordinal) => write!(f, "cuda:{ordinal}"),
            Device::Metal => f.write_str("metal"),
        }
    }
}

impl FromStr for Device {
    type Err = String;

    /// Parses `auto`, `cpu`, `cuda`, `cuda:N` or `metal` (ASCII case ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "auto" => Ok(Device::Auto),
            "cpu" => Ok(Device::Cpu),
            "cuda" | "gpu" => Ok(Device::Cuda(0)),
            "metal" => Ok(Device::Metal),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Device::Cuda)
                .ok_or_else(|| {
                    format!("unknown device `{s}` (expected auto, cpu, cuda, cuda:N or metal)")
                }),
        }
    }
}

/// Everything [`MistralRsModel`](crate::MistralRsModel) is built from. Create it with
/// [`MistralRsModel::builder`](crate::MistralRsModel::builder).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOptions {
    /// Where the weights come from.
    pub source: ModelSource,
    /// Where the model runs. Default [`Device::Cpu`], even if an accelerator is compiled in.
    pub device: Device,
    /// Weight dtype (not used for GGUF, whose tensors carry their own types). Default F32.
    pub dtype: WeightDtype,
    /// In-situ quantisation of safetensors weights. Default none.
    pub isq: Option<Isq>,
    /// Sequences kept in the prefix cache (0 disables it). Default 16, also for vision models
    /// (mistral.rs turns it off for them unless asked).
    pub prefix_cache_n: usize,
    /// The generation cap when a request sets no `max_tokens`. Default 512.
    pub default_max_tokens: u32,
    /// How tools are presented and earlier calls rendered.
    pub tool_format: ToolPromptFormat,
    /// Bounds added to tool schemas for constrained calls.
    pub grammar: GrammarBounds,
    /// Limits for the images in requests.
    pub image_limits: ImageLimits,
    /// Longest image edge handed to the model; `None` derives it from the model (1120 for
    /// Llama 3.2 Vision: two 560-pixel tiles).
    pub max_image_edge: Option<u32>,
    /// A chat template (`.json` tokenizer config or `.jinja`) replacing the model's own.
    pub chat_template: Option<PathBuf>,
    /// The name [`ChatModel::name`](argus_core::ChatModel::name) reports; default the
    /// directory, file or model id.
    pub name: Option<String>,
    /// How requests become prompts; `None` chooses from the model: [`PromptMode::Completion`]
    /// when it has no chat template, else [`PromptMode::Chat`].
    pub prompt_mode: Option<PromptMode>,
}

impl ModelOptions {
    /// The defaults for `source`.
    pub fn new(source: ModelSource) -> Self {
        ModelOptions {
            source,
            device: Device::Cpu,
            dtype: WeightDtype::F32,
            isq: None,
            prefix_cache_n: 16,
            default_max_tokens: 512,
            tool_format: ToolPromptFormat::default(),
            grammar: GrammarBounds::default(),
            image_limits: ImageLimits::default(),
            max_image_edge: None,
            chat_template: None,
            name: None,
            prompt_mode: None,
        }
    }
}
