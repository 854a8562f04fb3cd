//! Checking a model's files before mistral.rs sees them: what kind of model a source holds,
//! its chat template, and the typed errors for files mistral.rs would misread or panic on.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use mistralrs::{MultimodalLoaderType, NormalLoaderType};
use serde_json::Value;

use super::error::LoadError;
use super::options::{ModelOptions, ModelSource};
use super::quantize::DecoderWidths;
use super::window;

/// GGUF architectures mistral.rs 0.8.1 runs. Others either fail or panic inside its loader.
pub(crate) const GGUF_ARCHITECTURES: [&str; 8] = [
    "llama",
    "mistral3",
    "phi2",
    "phi3",
    "starcoder2",
    "qwen2",
    "qwen3",
    "qwen3moe",
];

/// Architectures mistral.rs loads with a multimodal loader whose checkpoints are text-only
/// when `config.json` has no `vision_config` (mistral.rs tells the two Gemma 3 shapes apart the
/// same way).
const TEXT_ONLY_WITHOUT_VISION_CONFIG: [&str; 1] = ["Gemma3ForCausalLM"];

/// Whether a multimodal-loader checkpoint has a vision tower.
fn takes_images(architecture: &str, config: &Value) -> bool {
    config.get("vision_config").is_some()
        || !TEXT_ONLY_WITHOUT_VISION_CONFIG.contains(&architecture)
}

/// Longest image edge for Llama 3.2 Vision: a 2×2 arrangement of 560-pixel tiles.
const MLLAMA_DEFAULT_EDGE: u32 = 1120;

/// What kind of model a source holds, as far as it can be told before loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ModelKind {
    /// A local safetensors directory mistral.rs loads with a multimodal loader.
    Vision {
        /// `architectures[0]` of `config.json`.
        architecture: String,
        /// Whether the checkpoint has a vision tower: text-only members of a multimodal
        /// family (Gemma 3 270M and 1B) load the same way but take no images.
        takes_images: bool,
    },
    /// A local text safetensors directory.
    Text {
        /// `architectures[0]` of `config.json`.
        architecture: String,
    },
    /// A local GGUF file.
    Gguf {
        /// `general.architecture`.
        architecture: String,
    },
    /// A hub model, detected by mistral.rs.
    Hub,
}

/// The result of [`inspect`].
#[derive(Debug, Clone)]
pub(crate) struct Inspected {
    pub(crate) kind: ModelKind,
    /// The longest image edge the model's preprocessor uses, when known.
    pub(crate) image_edge: Option<u32>,
    /// The chat template's source, when it can be read before loading (not for hub models).
    pub(crate) chat_template: Option<String>,
    /// The widths of a local directory's decoder layers, which in-situ quantisation plans by.
    pub(crate) widths: Option<DecoderWidths>,
    /// The context window the files declare (`max_position_embeddings`, GGUF
    /// `<arch>.context_length`), when they declare one.
    pub(crate) context_length: Option<usize>,
}

/// Checks a model's files without loading weights, so missing files, unsupported
/// architectures, broken tokenizers and truncated weights become typed errors (and never
/// reach code in mistral.rs that would treat a path as a hub id or panic).
pub(crate) fn inspect(options: &ModelOptions) -> Result<Inspected, LoadError> {
    if let Some(template) = &options.chat_template {
        let ok = template
            .extension()
            .is_some_and(|ext| ext == "json" || ext == "jinja");
        if !ok {
            return Err(LoadError::InvalidConfig {
                path: template.clone(),
                reason: "a chat template file must end in .json or .jinja".into(),
            });
        }
        if !template.is_file() {
            return Err(LoadError::NotFound {
                path: template.clone(),
            });
        }
    }
    let mut inspected = match &options.source {
        ModelSource::Dir(dir) => inspect_dir(dir)?,
        ModelSource::Gguf(path) => inspect_gguf(path, options.chat_template.is_some())?,
        ModelSource::Hub { .. } => Inspected {
            kind: ModelKind::Hub,
            image_edge: None,
            chat_template: None,
            widths: None,
            context_length: None,
        },
    };
    if let Some(path) = &options.chat_template {
        inspected.chat_template = Some(read_template_file(path)?);
    }
    Ok(inspected)
}

/// The template source of a `.jinja` file, or of the `chat_template` entry of a `.json`
/// tokenizer config.
fn read_template_file(path: &Path) -> Result<String, LoadError> {
    if path.extension().is_some_and(|ext| ext == "jinja") {
        return std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        });
    }
    template_from_config(&read_json(path)?).ok_or_else(|| LoadError::InvalidConfig {
        path: path.to_path_buf(),
        reason: "no `chat_template` entry".into(),
    })
}

/// `chat_template` of a tokenizer config: a string, or a list of named templates of which
/// mistral.rs uses `default`.
fn template_from_config(config: &Value) -> Option<String> {
    match &config["chat_template"] {
        Value::String(template) => Some(template.clone()),
        Value::Array(named) => named
            .iter()
            .find(|t| t["name"] == "default")
            .and_then(|t| t["template"].as_str())
            .map(str::to_owned),
        _ => None,
    }
}

/// The template a model directory ships: `chat_template.jinja`, else the tokenizer config's.
fn dir_chat_template(dir: &Path) -> Result<Option<String>, LoadError> {
    let jinja = dir.join("chat_template.jinja");
    if jinja.is_file() {
        return read_template_file(&jinja).map(Some);
    }
    let config = dir.join("tokenizer_config.json");
    if config.is_file() {
        return Ok(template_from_config(&read_json(&config)?));
    }
    Ok(None)
}

fn read_json(path: &Path) -> Result<Value, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| LoadError::InvalidConfig {
        path: path.to_path_buf(),
        reason: format!("not valid JSON: {e}"),
    })
}

fn require(dir: &Path, file: &str) -> Result<PathBuf, LoadError> {
    let path = dir.join(file);
    if path.is_file() {
        Ok(path)
    } else {
        Err(LoadError::MissingFile {
            dir: dir.to_path_buf(),
            file: file.to_string(),
        })
    }
}

fn inspect_dir(dir: &Path) -> Result<Inspected, LoadError> {
    if !dir.exists() {
        return Err(LoadError::NotFound {
            path: dir.to_path_buf(),
        });
    }
    if !dir.is_dir() {
        return Err(LoadError::InvalidConfig {
            path: dir.to_path_buf(),
            reason: "expected a model directory (use ModelSource::Gguf for a GGUF file)".into(),
        });
    }
    let config_path = require(dir, "config.json")?;
    let config = read_json(&config_path)?;
    let architecture = config["architectures"][0]
        .as_str()
        .ok_or_else(|| LoadError::InvalidConfig {
            path: config_path.clone(),
            reason: "no `architectures` list".into(),
        })?
        .to_string();
    let vision = MultimodalLoaderType::from_causal_lm_name(&architecture).is_ok();
    if !vision && NormalLoaderType::from_causal_lm_name(&architecture).is_err() {
        return Err(LoadError::UnsupportedArchitecture {
            path: config_path,
            architecture,
            supported: "the text and multimodal architectures of mistral.rs 0.8.1".into(),
        });
    }
    check_tokenizer(&require(dir, "tokenizer.json")?)?;
    let mut weights = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    })? {
        let path = entry
            .map_err(|source| LoadError::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .path();
        if path.extension().is_some_and(|ext| ext == "safetensors") {
            weights.push(path);
        }
    }
    if weights.is_empty() {
        return Err(LoadError::MissingFile {
            dir: dir.to_path_buf(),
            file: "*.safetensors".into(),
        });
    }
    for path in &weights {
        check_safetensors(path)?;
    }
    let image_edge = if architecture == "MllamaForConditionalGeneration" {
        Some(mllama_edge(dir, &config)?)
    } else {
        None
    };
    let kind = if vision {
        ModelKind::Vision {
            takes_images: takes_images(&architecture, &config),
            architecture,
        }
    } else {
        ModelKind::Text { architecture }
    };
    Ok(Inspected {
        kind,
        image_edge,
        chat_template: dir_chat_template(dir)?,
        widths: DecoderWidths::from_config(&config),
        context_length: window::config_context_length(&config),
    })
}

/// Checks that the preprocessor agrees with the vision config (mistral.rs assumes it) and
/// returns the longest image edge: the tile size times the tiles of a square arrangement.
fn mllama_edge(dir: &Path, config: &Value) -> Result<u32, LoadError> {
    let path = require(dir, "preprocessor_config.json")?;
    let pre = read_json(&path)?;
    let vision = &config["vision_config"];
    let tiles = pre["max_image_tiles"].as_u64();
    let size = pre["size"]["height"].as_u64();
    let (Some(tiles), Some(size)) = (tiles, size) else {
        return Err(LoadError::InvalidConfig {
            path,
            reason: "needs `max_image_tiles` and `size.height`".into(),
        });
    };
    if Some(tiles) != vision["max_num_tiles"].as_u64()
        || Some(size) != vision["image_size"].as_u64()
    {
        return Err(LoadError::InvalidConfig {
            path,
            reason: format!(
                "max_image_tiles ({tiles}) and size.height ({size}) must equal the vision \
                 config's max_num_tiles ({}) and image_size ({})",
                vision["max_num_tiles"], vision["image_size"]
            ),
        });
    }
    if size == 560 && tiles == 4 {
        return Ok(MLLAMA_DEFAULT_EDGE);
    }
    let side = (1..=tiles)
        .take_while(|s| s * s <= tiles)
        .last()
        .unwrap_or(1);
    Ok(u32::try_from(size * side).unwrap_or(MLLAMA_DEFAULT_EDGE))
}

/// Reads `tokenizer.json` far enough to refuse what mistral.rs cannot use.
fn check_tokenizer(path: &Path) -> Result<(), LoadError> {
    let bad = |reason: String| LoadError::Tokenizer {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    match json["model"]["type"].as_str() {
        Some("BPE" | "WordPiece" | "WordLevel") => Ok(()),
        // mistral.rs 0.8.1 panics building its token trie from a Unigram vocabulary.
        Some("Unigram") => Err(bad(
            "Unigram tokenizers are not supported by mistral.rs".into()
        )),
        Some(other) => Err(bad(format!("unknown tokenizer model type `{other}`"))),
        None => Err(bad("no `model.type`".into())),
    }
}

/// Checks a safetensors file's header and that every tensor lies inside the file.
fn check_safetensors(path: &Path) -> Result<(), LoadError> {
    let corrupt = |reason: String| LoadError::CorruptWeights {
        path: path.to_path_buf(),
        reason,
    };
    let io = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut prefix = [0u8; 8];
    if len < 8 {
        return Err(corrupt(format!(
            "{len} bytes is shorter than the 8-byte header length"
        )));
    }
    file.read_exact(&mut prefix).map_err(io)?;
    let header_len = u64::from_le_bytes(prefix);
    if header_len > 100 << 20 || header_len > len - 8 {
        return Err(corrupt(format!(
            "declares a {header_len}-byte header in a {len}-byte file"
        )));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header).map_err(io)?;
    let header: serde_json::Map<String, Value> = serde_json::from_slice(&header)
        .map_err(|e| corrupt(format!("the header is not a JSON object: {e}")))?;
    let data_len = len - 8 - header_len;
    for (name, info) in &header {
        if name == "__metadata__" {
            continue;
        }
        let end = info["data_offsets"][1]
            .as_u64()
            .ok_or_else(|| corrupt(format!("tensor `{name}` has no data_offsets")))?;
        if end > data_len {
            return Err(corrupt(format!(
                "tensor `{name}` ends at byte {end} but the data section has {data_len} bytes (truncated?)"
            )));
        }
    }
    Ok(())
}

/// Reads a GGUF's metadata with argus-convert's validating reader (candle's allocates whatever
/// a length field claims), which also checks that every tensor's data lies inside the file.
fn inspect_gguf(path: &Path, has_template: bool) -> Result<Inspected, LoadError> {
    if !path.exists() {
        return Err(LoadError::NotFound {
            path: path.to_path_buf(),
        });
    }
    let metadata = argus_convert::read_metadata(path).map_err(|e| gguf_error(path, e))?;
    let architecture = metadata
        .architecture()
        .ok_or_else(|| LoadError::InvalidGguf {
            path: path.to_path_buf(),
            reason: "no `general.architecture` in the metadata".into(),
        })?
        .to_string();
    if !GGUF_ARCHITECTURES.contains(&architecture.to_ascii_lowercase().as_str()) {
        return Err(LoadError::UnsupportedArchitecture {
            path: path.to_path_buf(),
            architecture,
            supported: GGUF_ARCHITECTURES.join(", "),
        });
    }
    let tokenizer_error = |reason: &str| LoadError::Tokenizer {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    match metadata.string("tokenizer.ggml.model") {
        Some("gpt2" | "llama" | "replit") => {}
        Some(other) => {
            return Err(tokenizer_error(&format!(
                "tokenizer model `{other}` is not supported (gpt2 or llama)"
            )))
        }
        None => return Err(tokenizer_error("no tokenizer in the GGUF metadata")),
    }
    for key in ["tokenizer.ggml.tokens", "tokenizer.ggml.eos_token_id"] {
        if !metadata.contains(key) {
            return Err(tokenizer_error(&format!("the metadata has no `{key}`")));
        }
    }
    let chat_template = metadata
        .string("tokenizer.chat_template")
        .map(str::to_owned);
    if !has_template && chat_template.is_none() {
        return Err(LoadError::InvalidConfig {
            path: path.to_path_buf(),
            reason: "no `tokenizer.chat_template` in the metadata; pass a chat template".into(),
        });
    }
    let context_length = metadata
        .u64(&format!("{architecture}.context_length"))
        .and_then(|n| usize::try_from(n).ok());
    Ok(Inspected {
        kind: ModelKind::Gguf { architecture },
        image_edge: None,
        chat_template,
        widths: None,
        context_length,
    })
}

/// The load error for a GGUF the reader refuses: not a GGUF at all is `InvalidGguf`; cut short
/// or inconsistent with its own header is `CorruptWeights`.
fn gguf_error(path: &Path, error: argus_convert::Error) -> LoadError {
    let path = path.to_path_buf();
    match error {
        argus_convert::Error::Io { source, .. } => LoadError::Io { path, source },
        argus_convert::Error::NotGguf { .. } => LoadError::InvalidGguf {
            path,
            reason: "the file does not start with the GGUF magic".into(),
        },
        argus_convert::Error::Corrupt { reason, .. } => LoadError::CorruptWeights { path, reason },
        other => LoadError::InvalidGguf {
            path,
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_only_members_of_a_multimodal_family_take_no_images() {
        let text = json!({"hidden_size": 640});
        let vision = json!({"text_config": {}, "vision_config": {}});
        assert!(!takes_images("Gemma3ForCausalLM", &text));
        assert!(takes_images("Gemma3ForCausalLM", &vision));
        assert!(takes_images("Gemma3ForConditionalGeneration", &vision));
        assert!(takes_images("MllamaForConditionalGeneration", &vision));
        assert!(
            takes_images("Phi3VForCausalLM", &text),
            "only listed families are judged"
        );
    }
}
