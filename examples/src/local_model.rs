//! Models run in this process by mistral.rs: presets, local directories, GGUF files (converted
//! once when mistral.rs cannot read their architecture) and model-hub ids.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use argus_core::{ChatModel, ImageCache, ToolPromptFormat};
use argus_vision::{Device, Isq, LoadError, MistralRsModel, ModelSource, PromptMode};
use indicatif::{ProgressBar, ProgressStyle};

use crate::exit::UserError;

/// A model users actually run, by a short name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Preset {
    /// The name `--model` accepts.
    pub(crate) name: &'static str,
    /// The model-hub id.
    pub(crate) hub_id: &'static str,
    /// In-situ quantisation applied while loading.
    pub(crate) isq: Option<Isq>,
    /// The tool prompt format the model was trained on.
    pub(crate) tool_format: ToolPromptFormat,
    /// What it is for.
    pub(crate) summary: &'static str,
}

/// The presets; the first is the default.
pub(crate) const PRESETS: &[Preset] = &[
    Preset {
        name: "llama-3.2-11b-vision",
        hub_id: "meta-llama/Llama-3.2-11B-Vision-Instruct",
        isq: Some(Isq::Q4K),
        tool_format: ToolPromptFormat::Llama31Json,
        summary: "Llama 3.2 11B Vision Instruct, 4-bit in-situ quantisation (sees images)",
    },
    Preset {
        name: "llama-3.2-3b",
        hub_id: "meta-llama/Llama-3.2-3B-Instruct",
        isq: Some(Isq::Q4K),
        tool_format: ToolPromptFormat::Llama32Pythonic,
        summary: "Llama 3.2 3B Instruct, 4-bit: fast text-only tool calling",
    },
    Preset {
        name: "llama-3.2-1b",
        hub_id: "meta-llama/Llama-3.2-1B-Instruct",
        isq: Some(Isq::Q8_0),
        tool_format: ToolPromptFormat::Llama32Pythonic,
        summary: "Llama 3.2 1B Instruct, 8-bit: the fastest text-only tool calling",
    },
    Preset {
        name: "llama-3.1-8b",
        hub_id: "meta-llama/Llama-3.1-8B-Instruct",
        isq: Some(Isq::Q4K),
        tool_format: ToolPromptFormat::Llama31Json,
        summary: "Llama 3.1 8B Instruct, 4-bit: stronger text-only tool calling",
    },
];

/// The flags of a model run in this process.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct LocalArgs {
    /// In-situ quantisation of safetensors weights: q4k, q5k, q6k, q8_0 or none (default: the
    /// preset's; q8_0 for a GGUF converted to safetensors).
    #[arg(long, value_parser = parse_isq, conflicts_with = "api_base")]
    pub(crate) isq: Option<IsqSetting>,
    /// Where GGUF files mistral.rs cannot read are converted to (cached by content hash).
    #[arg(long, conflicts_with = "api_base")]
    pub(crate) convert_cache: Option<PathBuf>,
    /// Where the model runs: auto (the accelerator this build has, else the CPU), cpu,
    /// cuda[:N] (a build with `--features cuda`) or metal (`--features metal`); weights in
    /// BF16 on CUDA, F16 on Metal, F32 on the CPU.
    #[arg(
        long,
        default_value = "auto",
        value_parser = crate::device::parse_device,
        conflicts_with = "api_base"
    )]
    pub(crate) device: Device,
    /// Raw completion (set by `run` and `chat`, not a flag here).
    #[arg(skip)]
    pub(crate) raw: RawPolicy,
}

/// When a model completes text raw instead of chatting ([`PromptMode::Completion`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum RawPolicy {
    /// Chat, unless the model has no chat template at all (`eval`).
    #[default]
    Chat,
    /// Raw completion for a base model: a GGUF whose metadata has no chat template (`run` and
    /// `chat` without tools).
    BaseModels,
    /// Raw completion whatever the model (`--raw`).
    Always,
}

/// The in-situ quantisation of a converted GGUF unless `--isq` says otherwise: on Gemma 3 270M
/// it halved `argus eval`'s time per case against F32 with the same scores (README).
const CONVERTED_GGUF_ISQ: Isq = Isq::Q8_0;

/// What `--isq` asks for: a quantisation, or explicitly none (overriding a preset's).
///
/// A type of its own rather than `Option<Isq>`: clap's derive reads `Option<Option<T>>` as a
/// flag whose value is optional, which is not what the parser stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IsqSetting(pub(crate) Option<Isq>);

fn parse_isq(text: &str) -> Result<IsqSetting, String> {
    let isq = match text.to_ascii_lowercase().as_str() {
        "none" | "off" => None,
        "q4k" => Some(Isq::Q4K),
        "q5k" => Some(Isq::Q5K),
        "q6k" => Some(Isq::Q6K),
        "q8_0" | "q8" => Some(Isq::Q8_0),
        other => {
            return Err(format!(
                "unknown quantisation `{other}` (expected q4k, q5k, q6k, q8_0 or none)"
            ))
        }
    };
    Ok(IsqSetting(isq))
}

/// Where a `--model` value points.
#[derive(Debug, Clone, PartialEq)]
enum Resolved {
    Preset(Preset),
    Dir(PathBuf),
    Gguf(PathBuf),
    Hub(String),
}

impl PartialEq for Preset {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

fn resolve(model: &str) -> Result<Resolved, UserError> {
    if let Some(preset) = PRESETS.iter().find(|p| p.name == model) {
        return Ok(Resolved::Preset(*preset));
    }
    let path = Path::new(model);
    if path.is_dir() {
        return Ok(Resolved::Dir(path.to_path_buf()));
    }
    if path.is_file() {
        return Ok(Resolved::Gguf(path.to_path_buf()));
    }
    let looks_like_path = model.starts_with('.')
        || model.starts_with('/')
        || model.starts_with('~')
        || model.ends_with(".gguf")
        || model.matches('/').count() != 1;
    if looks_like_path {
        return Err(UserError::not_found(format!(
            "model `{model}` not found: it is no preset ({}), no local directory or .gguf file, \
             and no model-hub id of the form org/name",
            PRESETS
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(Resolved::Hub(model.to_string()))
}

impl LocalArgs {
    /// Loads `model` (default: the first preset), with a spinner on stderr while it loads; the
    /// model keeps its decoded images in `images`.
    pub(crate) async fn load(
        &self,
        model: Option<&str>,
        tool_format: Option<ToolPromptFormat>,
        images: &ImageCache,
    ) -> anyhow::Result<Arc<dyn ChatModel>> {
        let name = model.unwrap_or(PRESETS[0].name);
        let resolved = resolve(name)?;
        let (source, preset) = match &resolved {
            Resolved::Preset(preset) => (ModelSource::hub(preset.hub_id), Some(*preset)),
            Resolved::Dir(dir) => (ModelSource::dir(dir), None),
            Resolved::Gguf(file) => (self.gguf_source(file).await?, None),
            Resolved::Hub(id) => (ModelSource::hub(id.clone()), None),
        };
        let device = crate::device::resolve(self.device)?;
        let mut builder = MistralRsModel::builder(source.clone())
            .with_image_cache(images.clone())
            .with_device(device)
            .with_dtype(device.default_dtype());
        let raw = match (self.raw, &resolved) {
            (RawPolicy::Always, _) => true,
            (RawPolicy::BaseModels, Resolved::Gguf(file)) => is_base_model(file),
            _ => false,
        };
        if raw {
            builder = builder.with_prompt_mode(PromptMode::Completion);
        }
        // A GGUF converted to safetensors is quantised again while loading, so it does not
        // run as F32: reading F32 weights is what bounds decoding on a CPU.
        let converted = matches!(
            (&resolved, &source),
            (Resolved::Gguf(_), ModelSource::Dir(_))
        );
        let isq = match self.isq {
            Some(IsqSetting(isq)) => isq,
            None if converted => Some(CONVERTED_GGUF_ISQ),
            None => preset.and_then(|p| p.isq),
        };
        if let Some(isq) = isq {
            // A GGUF mistral.rs reads directly is quantised already; a converted one is a
            // safetensors directory like any other.
            if let ModelSource::Gguf(_) = source {
                return Err(UserError::usage(format!(
                    "--isq applies to safetensors weights; {} is a GGUF file mistral.rs loads \
                     with its own quantisation (leave --isq out)",
                    source.describe()
                ))
                .into());
            }
            builder = builder.with_isq(isq);
        }
        if let Some(format) = tool_format.or(preset.map(|p| p.tool_format)) {
            builder = builder.with_tool_format(format);
        }
        let spinner = spinner(format!("loading {}", source.describe()));
        let loaded = builder.build().await;
        spinner.finish_and_clear();
        match loaded {
            Ok(model) => Ok(Arc::new(model)),
            Err(error) => Err(explain(error, &source, name)),
        }
    }

    /// A GGUF mistral.rs reads directly, or the directory it converts to (once, cached).
    async fn gguf_source(&self, file: &Path) -> anyhow::Result<ModelSource> {
        let architecture = argus_convert::read_architecture(file)
            .map_err(|e| UserError::invalid(e.to_string()))?;
        if !argus_convert::is_convertible(&architecture) {
            return Ok(ModelSource::gguf(file));
        }
        let cache = match &self.convert_cache {
            Some(dir) => dir.clone(),
            None => default_convert_cache().ok_or_else(|| {
                UserError::invalid("no home directory for converted models: pass --convert-cache")
            })?,
        };
        let file = file.to_path_buf();
        let dir = tokio::task::spawn_blocking(move || convert_with_progress(&file, &cache))
            .await
            .context("the conversion task failed")??;
        Ok(ModelSource::dir(dir))
    }
}

/// Whether a GGUF is a base model: its metadata carries no chat template (instruction-tuned
/// GGUFs ship theirs in `tokenizer.chat_template`; Gemma 3 270M's base GGUF has none).
fn is_base_model(file: &Path) -> bool {
    argus_convert::read_metadata(file)
        .map(|metadata| !metadata.contains("tokenizer.chat_template"))
        .unwrap_or(false)
}

/// `~/.cache/argus/converted` (or `$XDG_CACHE_HOME/argus/converted`).
pub(crate) fn default_convert_cache() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("argus").join("converted"))
}

/// Converts `file` into `cache` (or reuses an earlier conversion) with a progress bar.
pub(crate) fn convert_with_progress(file: &Path, cache: &Path) -> anyhow::Result<PathBuf> {
    let bar = conversion_bar(file);
    let result = argus_convert::convert_cached_with(
        file,
        cache,
        &argus_convert::ConvertOptions::default(),
        &mut |progress| show_progress(&bar, &progress),
    );
    bar.finish_and_clear();
    result.map_err(|e| UserError::invalid(e.to_string()).into())
}

/// A progress bar for converting `file`, on stderr.
pub(crate) fn conversion_bar(file: &Path) -> ProgressBar {
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} tensors ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(format!("converting {} (once)", file.display()));
    bar
}

/// Moves `bar` to `progress`.
pub(crate) fn show_progress(bar: &ProgressBar, progress: &argus_convert::Progress) {
    bar.set_length(progress.tensors_total as u64);
    bar.set_position(progress.tensors_done as u64);
}

fn spinner(message: String) -> ProgressBar {
    let spinner = ProgressBar::new_spinner();
    spinner.set_message(message);
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

/// A load failure as one line that says what to do.
fn explain(error: LoadError, source: &ModelSource, name: &str) -> anyhow::Error {
    let offline_hint = "use --model with a local model directory or .gguf file, or write an \
                        offline demo model with `argus demo-model DIR`";
    match (&error, source) {
        (LoadError::UnsupportedDevice { .. }, _) => UserError::usage(error.to_string()).into(),
        (LoadError::NotFound { .. } | LoadError::MissingFile { .. }, _) => {
            UserError::not_found(format!("{error}; {offline_hint}")).into()
        }
        (_, ModelSource::Hub { .. }) => UserError::not_found(format!(
            "cannot load `{name}` from the model hub ({error}); without network access, {offline_hint}"
        ))
        .into(),
        _ => UserError::invalid(error.to_string()).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_resolve_to_presets_paths_or_hub_ids() {
        let dir = tempfile::tempdir().unwrap();
        let gguf = dir.path().join("m.gguf");
        std::fs::write(&gguf, b"GGUF").unwrap();
        assert_eq!(
            resolve("llama-3.2-3b").unwrap(),
            Resolved::Preset(PRESETS[1])
        );
        assert_eq!(
            resolve(dir.path().to_str().unwrap()).unwrap(),
            Resolved::Dir(dir.path().to_path_buf())
        );
        assert_eq!(
            resolve(gguf.to_str().unwrap()).unwrap(),
            Resolved::Gguf(gguf.clone())
        );
        assert_eq!(
            resolve("meta-llama/Llama-3.2-1B-Instruct").unwrap(),
            Resolved::Hub("meta-llama/Llama-3.2-1B-Instruct".into())
        );
        for missing in ["./nope", "/nope/model.gguf", "model.gguf", "a/b/c"] {
            assert!(resolve(missing).is_err(), "{missing}");
        }
    }

    #[test]
    fn quantisation_names_parse() {
        assert_eq!(parse_isq("Q4K").unwrap(), IsqSetting(Some(Isq::Q4K)));
        assert_eq!(parse_isq("q8_0").unwrap(), IsqSetting(Some(Isq::Q8_0)));
        assert_eq!(parse_isq("none").unwrap(), IsqSetting(None));
        assert!(parse_isq("q3").is_err());
    }
}
