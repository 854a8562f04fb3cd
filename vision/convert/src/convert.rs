//! One conversion: GGUF in, Hugging Face-style directory out.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::arch;
use crate::config::{self, ConfigContext, WeightFacts};
use crate::error::{Error, Result};
use crate::gguf::GgufFile;
use crate::tokenizer::{self, SpVocab};
use crate::weights::WeightPlan;

/// The element type written to `model.safetensors`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OutputDType {
    /// Half precision: half the disk space, and byte-identical greedy text to F32 on the Gemma 3 270M checks.
    #[default]
    F16,
    /// Single precision (what dequantization produces, nothing rounded).
    F32,
}

impl OutputDType {
    /// Bytes per element.
    pub(crate) fn size(self) -> u64 {
        match self {
            Self::F16 => 2,
            Self::F32 => 4,
        }
    }

    /// The safetensors dtype name.
    pub(crate) fn safetensors_name(self) -> &'static str {
        match self {
            Self::F16 => "F16",
            Self::F32 => "F32",
        }
    }

    /// The `torch_dtype` written to `config.json`.
    pub(crate) fn torch_dtype(self) -> &'static str {
        match self {
            Self::F16 => "float16",
            Self::F32 => "float32",
        }
    }
}

/// Conversion settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConvertOptions {
    /// The element type of the written weights (default [`OutputDType::F16`]).
    pub dtype: OutputDType,
}

impl ConvertOptions {
    /// Sets the element type of the written weights.
    pub fn with_dtype(mut self, dtype: OutputDType) -> Self {
        self.dtype = dtype;
        self
    }
}

/// What a conversion is doing, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// Hashing the GGUF to find or name its cache entry (`bytes_*` count input bytes).
    Hashing,
    /// Dequantizing and writing weights (`bytes_*` count bytes of `model.safetensors` tensor data).
    Weights,
    /// Writing the tokenizer and config files (after the weights; the tokenizer is built alongside them).
    Finishing,
    /// Done.
    Done,
}

/// A progress report, passed to the caller's callback as work advances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// What is happening.
    pub stage: Stage,
    /// Tensors written so far.
    pub tensors_done: usize,
    /// Tensors to write in all.
    pub tensors_total: usize,
    /// Bytes processed so far in this stage.
    pub bytes_done: u64,
    /// Bytes to process in this stage.
    pub bytes_total: u64,
}

/// What a finished conversion wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Conversion {
    /// The directory holding the converted model.
    pub dir: PathBuf,
    /// The GGUF's `general.architecture`.
    pub architecture: String,
    /// The Hugging Face architecture written to `config.json` (e.g. `Gemma3ForCausalLM`).
    pub hf_architecture: String,
    /// Tensors written.
    pub tensors: usize,
    /// Size of `model.safetensors` in bytes.
    pub weights_bytes: u64,
    /// Tokenizer vocabulary size.
    pub vocab_size: usize,
    /// BPE merges derived from the vocabulary.
    pub merges: usize,
    /// The files written, relative to [`Conversion::dir`].
    pub files: Vec<String>,
}

/// The files a conversion writes (besides `model.safetensors`).
pub(crate) const CONFIG_FILE: &str = "config.json";
pub(crate) const GENERATION_CONFIG_FILE: &str = "generation_config.json";
pub(crate) const TOKENIZER_FILE: &str = "tokenizer.json";
pub(crate) const TOKENIZER_CONFIG_FILE: &str = "tokenizer_config.json";
pub(crate) const CHAT_TEMPLATE_FILE: &str = "chat_template.jinja";

/// Converts `gguf` into a Hugging Face-style directory `out_dir` (created if needed; files in it are replaced):
/// `model.safetensors`, `config.json`, `generation_config.json`, `tokenizer.json`, `tokenizer_config.json` and,
/// when there is a chat template, `chat_template.jinja`.
///
/// Everything that can be checked before writing is checked first (a corrupt file, an unsupported architecture,
/// missing tensors or metadata, an unwritable output), so errors come fast. Use
/// [`convert_cached`](crate::convert_cached) to convert a given file only once.
pub fn convert(
    gguf: &Path,
    out_dir: &Path,
    options: &ConvertOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Conversion> {
    let mut file = GgufFile::open(gguf)?;
    let architecture = file.architecture()?.to_owned();
    let spec = arch::spec(&architecture).ok_or_else(|| Error::UnsupportedArchitecture {
        path: gguf.to_path_buf(),
        architecture: architecture.clone(),
    })?;
    let cx = ConfigContext { gguf: &file, spec };
    let block_count = cx.meta_u64("block_count")?;
    let plan = WeightPlan::new(&file, spec, block_count, options.dtype)?;
    let facts = WeightFacts {
        vocab_size: plan.vocab_size,
        tied_embeddings: plan.tied_embeddings,
        dtype: options.dtype,
    };
    let config = config::config_json(&cx, &facts)?;
    let context_length = cx.meta_u64("context_length").ok();
    let gguf_template = file
        .metadata
        .get("tokenizer.chat_template")
        .and_then(|v| v.as_str())
        .map(str::to_owned);

    let vocab = SpVocab::from_gguf(&mut file)?;
    if vocab.pieces.len() as u64 > plan.vocab_size {
        return Err(Error::corrupt(
            gguf,
            format!(
                "{} tokens but only {} embedding rows",
                vocab.pieces.len(),
                plan.vocab_size
            ),
        ));
    }
    let mut eos_ids: Vec<u32> = vocab.eos.into_iter().collect();
    for tok in spec.extra_eos_tokens {
        if let Some(id) = vocab.id_of(tok) {
            if !eos_ids.contains(&id) {
                eos_ids.push(id);
            }
        }
    }
    let generation = config::generation_config_json(vocab.bos, &eos_ids, vocab.pad);
    let template = tokenizer::chat_template(
        gguf_template.as_deref(),
        spec.chat_template,
        vocab.add_bos && vocab.bos.is_some(),
    );
    let tokenizer_config =
        tokenizer::tokenizer_config_json(&vocab, template.as_deref(), context_length);

    prepare_output(out_dir)?;

    let tensors_total = plan.tensors.len();
    let bytes_total = plan.data_bytes();
    let report = |stage, tensors_done, bytes_done| Progress {
        stage,
        tensors_done,
        tensors_total,
        bytes_done,
        bytes_total,
    };
    progress(report(Stage::Weights, 0, 0));

    // The tokenizer (merges for 262k pieces, a 30 MB JSON) is built on a second core while the weights stream.
    let (weights, tokens) = std::thread::scope(|s| {
        let tokenizer = s.spawn(|| write_tokenizer(out_dir, &vocab));
        let weights = plan.write(&file, out_dir, &mut |done, bytes| {
            progress(report(Stage::Weights, done, bytes))
        });
        let tokens = tokenizer
            .join()
            .unwrap_or_else(|_| Err(Error::corrupt(gguf, "the tokenizer conversion panicked")));
        (weights, tokens)
    });
    weights?;
    let stats = tokens?;
    progress(report(Stage::Finishing, tensors_total, bytes_total));

    write_json(&out_dir.join(CONFIG_FILE), &config)?;
    write_json(&out_dir.join(GENERATION_CONFIG_FILE), &generation)?;
    write_json(&out_dir.join(TOKENIZER_CONFIG_FILE), &tokenizer_config)?;
    let mut files = vec![
        crate::weights::WEIGHTS_FILE.to_owned(),
        CONFIG_FILE.to_owned(),
        GENERATION_CONFIG_FILE.to_owned(),
        TOKENIZER_FILE.to_owned(),
        TOKENIZER_CONFIG_FILE.to_owned(),
    ];
    let template_path = out_dir.join(CHAT_TEMPLATE_FILE);
    match &template {
        Some(t) => {
            write_file(&template_path, t.as_bytes())?;
            files.push(CHAT_TEMPLATE_FILE.to_owned());
        }
        None => match fs::remove_file(&template_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io(&template_path, e))
            }
            _ => {}
        },
    }
    progress(report(Stage::Done, tensors_total, bytes_total));

    let weights_path = out_dir.join(crate::weights::WEIGHTS_FILE);
    let weights_bytes = fs::metadata(&weights_path)
        .map_err(|e| Error::io(&weights_path, e))?
        .len();
    Ok(Conversion {
        dir: out_dir.to_path_buf(),
        architecture,
        hf_architecture: spec.hf_architecture.to_owned(),
        tensors: tensors_total,
        weights_bytes,
        vocab_size: stats.vocab_size,
        merges: stats.merges,
        files,
    })
}

/// A suffix unique to this process and call, for temporary names: concurrent conversions in
/// one process must not share a probe or a temporary directory.
pub(crate) fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates `dir` and proves it writable with a probe file, so an unwritable output fails before any work.
pub(crate) fn prepare_output(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::not_writable(dir, e))?;
    let probe = dir.join(format!(".argus-convert-probe-{}", unique_suffix()));
    File::create(&probe).map_err(|e| Error::not_writable(dir, e))?;
    fs::remove_file(&probe).map_err(|e| Error::not_writable(dir, e))?;
    Ok(())
}

fn write_tokenizer(dir: &Path, vocab: &SpVocab) -> Result<tokenizer::TokenizerStats> {
    let path = dir.join(TOKENIZER_FILE);
    let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let stats =
        tokenizer::write_tokenizer_json(vocab, &mut out).map_err(|e| Error::io(&path, e.into()))?;
    let file = out
        .into_inner()
        .map_err(|e| Error::io(&path, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io(&path, e))?;
    Ok(stats)
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(value).map_err(|e| Error::io(path, e.into()))?;
    text.push(b'\n');
    write_file(path, &text)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = File::create(path).map_err(|e| Error::io(path, e))?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_probes_of_one_directory_do_not_collide() {
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| (0..200).try_for_each(|_| prepare_output(dir.path()))))
                .collect();
            for h in handles {
                h.join().unwrap().unwrap();
            }
        });
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no probe is left behind"
        );
    }
}
