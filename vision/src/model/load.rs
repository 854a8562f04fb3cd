//! Building the mistral.rs engine for an inspected model, with panics contained.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use argus_core::panic_message;
use mistralrs::{
    GgufModelBuilder, IsqType, ModelBuilder, ModelDType, MultimodalModelBuilder, TextModelBuilder,
    TokenSource,
};

use super::error::LoadError;
use super::inspect::{Inspected, ModelKind};
use super::options::{Device, Isq, ModelOptions, ModelSource, WeightDtype};
use super::quantize::{self, DecoderWidths};

fn isq_type(isq: Isq) -> IsqType {
    match isq {
        Isq::Q4K => IsqType::Q4K,
        Isq::Q5K => IsqType::Q5K,
        Isq::Q6K => IsqType::Q6K,
        Isq::Q8_0 => IsqType::Q8_0,
    }
}

fn model_dtype(dtype: WeightDtype) -> ModelDType {
    match dtype {
        WeightDtype::F32 => ModelDType::F32,
        WeightDtype::F16 => ModelDType::F16,
        WeightDtype::Bf16 => ModelDType::BF16,
        WeightDtype::Auto => ModelDType::Auto,
    }
}

/// Applies the settings every builder shares; with in-situ quantisation and known layer
/// widths, the per-tensor plan of [`quantize`](super::quantize) as a topology.
macro_rules! configure {
    ($builder:expr, $options:expr, $widths:expr) => {{
        let mut builder = $builder
            .with_dtype(model_dtype($options.dtype))
            .with_prefix_cache_n(Some($options.prefix_cache_n));
        if $options.device == Device::Cpu {
            builder = builder.with_force_cpu();
        }
        if let Some(isq) = $options.isq {
            builder = match $widths {
                Some(widths) => builder
                    .with_isq(quantize::default_type(isq, widths))
                    .with_topology(quantize::topology(isq, widths)?),
                None => builder.with_isq(isq_type(isq)),
            };
        }
        if let Some(template) = &$options.chat_template {
            builder = builder.with_chat_template(template.display());
        }
        builder
    }};
}

/// Builds the engine on a private runtime on a thread of its own; a panic inside mistral.rs
/// becomes [`LoadError::Panicked`].
///
/// A new thread each time, not a pooled one: mistral.rs keeps the in-situ quantisation setting
/// of a load in a thread-local it never clears, so a later load on a reused thread would
/// quantise with the earlier load's setting.
pub(crate) async fn build(
    options: &ModelOptions,
    inspected: &Inspected,
) -> Result<mistralrs::Model, LoadError> {
    let model = options.source.describe();
    let options = options.clone();
    let kind = inspected.kind.clone();
    let widths = inspected.widths;
    let (done, result) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("argus-model-load".into())
        .spawn(move || {
            let built = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start a runtime: {e}"))?;
                runtime.block_on(build_engine(&options, &kind, widths))
            }));
            // The receiver is gone only when the load was abandoned.
            let _ = done.send(built);
        });
    if let Err(error) = spawned {
        return Err(LoadError::Engine {
            model,
            reason: format!("cannot start the loading thread: {error}"),
        });
    }
    match result.await {
        Ok(Ok(Ok(engine))) => Ok(engine),
        Ok(Ok(Err(error))) => Err(classify(&model, &error)),
        Ok(Err(panic)) => Err(LoadError::Panicked {
            model,
            message: panic_message(panic.as_ref()),
        }),
        Err(_) => Err(LoadError::Panicked {
            model,
            message: "the loading thread ended without a result".into(),
        }),
    }
}

/// Checks that this build can run on the device asked for. mistral.rs 0.8.1's text,
/// multimodal and GGUF builders ignore `with_device` and load on the first device
/// `best_device` finds, so a device is chosen by allowing the accelerator (or forcing the CPU)
/// and a CUDA ordinal other than 0 is refused.
pub(crate) fn check_device(options: &ModelOptions) -> Result<(), LoadError> {
    let device = options.device;
    if let (false, Some(feature)) = (device.is_compiled(), device.feature()) {
        return Err(LoadError::UnsupportedDevice {
            device: device.to_string(),
            reason: format!("this build has no `{feature}` feature"),
        });
    }
    if let Device::Cuda(ordinal @ 1..) = device {
        return Err(LoadError::UnsupportedDevice {
            device: device.to_string(),
            reason: format!(
                "mistral.rs 0.8.1 loads on the first visible GPU: run with \
                 CUDA_VISIBLE_DEVICES={ordinal} and device cuda:0"
            ),
        });
    }
    Ok(())
}

/// Runs the matching mistral.rs builder; the error is mistral.rs's error chain as text.
async fn build_engine(
    options: &ModelOptions,
    kind: &ModelKind,
    widths: Option<DecoderWidths>,
) -> Result<mistralrs::Model, String> {
    let built = match (&options.source, kind) {
        (ModelSource::Dir(dir), ModelKind::Vision { .. }) => {
            let id = dir.display().to_string();
            configure!(MultimodalModelBuilder::new(id), options, widths)
                .with_token_source(TokenSource::None)
                .build()
                .await
        }
        (ModelSource::Dir(dir), _) => {
            let id = dir.display().to_string();
            configure!(TextModelBuilder::new(id), options, widths)
                .with_token_source(TokenSource::None)
                .build()
                .await
        }
        (ModelSource::Gguf(path), _) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let file = path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut builder = GgufModelBuilder::new(dir.display(), vec![file])
                .with_token_source(TokenSource::None)
                .with_prefix_cache_n(Some(options.prefix_cache_n));
            if options.device == Device::Cpu {
                builder = builder.with_force_cpu();
            }
            if let Some(template) = &options.chat_template {
                builder = builder.with_chat_template(template.display());
            }
            builder.build().await
        }
        (ModelSource::Hub { model_id, revision }, _) => {
            let mut builder = configure!(ModelBuilder::new(model_id), options, None)
                .with_token_source(TokenSource::CacheToken);
            if let Some(revision) = revision {
                builder = builder.with_hf_revision(revision);
            }
            builder.build().await
        }
    };
    built.map_err(|error| format!("{error:#}"))
}

/// Names the failure from mistral.rs's error chain.
fn classify(model: &str, reason: &str) -> LoadError {
    let reason = reason.to_string();
    let lower = reason.to_ascii_lowercase();
    let path = PathBuf::from(model);
    if lower.contains("tokenizer") {
        LoadError::Tokenizer { path, reason }
    } else if lower.contains("safetensor") || lower.contains("header too large") {
        LoadError::CorruptWeights { path, reason }
    } else {
        LoadError::Engine {
            model: model.to_string(),
            reason,
        }
    }
}
