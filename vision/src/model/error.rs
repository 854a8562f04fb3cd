//! Why a model could not be loaded.

use std::path::PathBuf;

/// Why a model could not be loaded. Every variant names the file or model id and the reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The path does not exist (mistral.rs would otherwise treat it as a hub id).
    #[error("model path {} does not exist", path.display())]
    NotFound {
        /// The missing path.
        path: PathBuf,
    },
    /// A file the model needs is missing from its directory.
    #[error("{} is missing {file}", dir.display())]
    MissingFile {
        /// The model directory.
        dir: PathBuf,
        /// The missing file name (or pattern, e.g. `*.safetensors`).
        file: String,
    },
    /// The architecture is not one mistral.rs 0.8.1 can run from this kind of file.
    #[error("{}: unsupported architecture `{architecture}` (supported: {supported})", path.display())]
    UnsupportedArchitecture {
        /// The model file or directory.
        path: PathBuf,
        /// The architecture it declares.
        architecture: String,
        /// The architectures that are supported.
        supported: String,
    },
    /// A configuration file is missing keys or is not valid JSON.
    #[error("invalid model configuration {}: {reason}", path.display())]
    InvalidConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file given as a GGUF is not one, or its metadata lacks what loading needs.
    #[error("invalid GGUF file {}: {reason}", path.display())]
    InvalidGguf {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The tokenizer cannot be used.
    #[error("bad tokenizer {}: {reason}", path.display())]
    Tokenizer {
        /// The tokenizer file (or the model, when the tokenizer is embedded).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A weights file is truncated or not in the format its name says (for a GGUF: its header
    /// or tensor table does not match the file).
    #[error("corrupt weights {}: {reason}", path.display())]
    CorruptWeights {
        /// The weights file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// mistral.rs failed to build the model.
    #[error("mistral.rs could not load {model}: {reason}")]
    Engine {
        /// The model path or hub id.
        model: String,
        /// mistral.rs's error, with its causes.
        reason: String,
    },
    /// The model cannot run on the device asked for with this build.
    #[error("cannot run on device {device}: {reason}")]
    UnsupportedDevice {
        /// The device, as `cpu`, `cuda:N`, `metal`.
        device: String,
        /// Why, and what to do instead.
        reason: String,
    },
    /// mistral.rs panicked while loading; the panic was contained.
    #[error("mistral.rs panicked while loading {model}: {message}")]
    Panicked {
        /// The model path or hub id.
        model: String,
        /// The panic message.
        message: String,
    },
}
