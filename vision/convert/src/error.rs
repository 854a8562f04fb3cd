//! The crate's one error type.

use std::path::{Path, PathBuf};

/// Everything that can go wrong while reading a GGUF or writing the converted directory.
///
/// Bad input never panics: a file that is not a GGUF, is cut short or claims data it does not hold comes back
/// as [`Error::NotGguf`] or [`Error::Corrupt`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing `path` failed (including "file not found" for the input).
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with the GGUF magic (`GGUF`).
    #[error("{path} is not a GGUF file")]
    NotGguf {
        /// The input file.
        path: PathBuf,
    },
    /// The file starts like a GGUF but is truncated, has an unsupported version, or describes data it does not
    /// hold (tensor data out of range, impossible sizes, malformed metadata).
    #[error("{path} is a corrupt or truncated GGUF: {reason}")]
    Corrupt {
        /// The input file.
        path: PathBuf,
        /// What was wrong, for humans.
        reason: String,
    },
    /// The GGUF is valid but its `general.architecture` has no conversion table here
    /// (see [`supported_architectures`](crate::supported_architectures)).
    #[error("{path}: architecture `{architecture}` cannot be converted (supported: {supported})", supported = crate::supported_architectures().join(", "))]
    UnsupportedArchitecture {
        /// The input file.
        path: PathBuf,
        /// The architecture the file declares.
        architecture: String,
    },
    /// A tensor is stored in a GGML type this converter cannot dequantize (for example the `IQ*` types).
    #[error(
        "{path}: tensor `{tensor}` has GGML type {ggml_type}, which cannot be dequantized here"
    )]
    UnsupportedTensorType {
        /// The input file.
        path: PathBuf,
        /// The GGUF tensor name.
        tensor: String,
        /// The GGML type name (or number, if unnamed).
        ggml_type: String,
    },
    /// The tokenizer stored in the GGUF is of a kind this converter does not handle
    /// (`tokenizer.ggml.model` other than `llama`).
    #[error("{path}: tokenizer model `{model}` cannot be converted")]
    UnsupportedTokenizer {
        /// The input file.
        path: PathBuf,
        /// The value of `tokenizer.ggml.model`.
        model: String,
    },
    /// The output directory (or the cache root) cannot be created or written to.
    #[error("output {path} is not writable: {source}")]
    OutputNotWritable {
        /// The directory that could not be created or written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A tensor the architecture requires is absent.
    #[error("{path}: required tensor `{name}` is missing")]
    MissingTensor {
        /// The input file.
        path: PathBuf,
        /// The GGUF tensor name.
        name: String,
    },
    /// The file holds a tensor the architecture table does not know, so the converted model would silently lack it.
    #[error("{path}: tensor `{name}` has no mapping for this architecture")]
    UnexpectedTensor {
        /// The input file.
        path: PathBuf,
        /// The GGUF tensor name.
        name: String,
    },
    /// A metadata key the conversion needs is absent or has the wrong type.
    #[error("{path}: metadata `{key}` is missing or has the wrong type")]
    MissingMetadata {
        /// The input file.
        path: PathBuf,
        /// The GGUF metadata key.
        key: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn corrupt(path: &Path, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    pub(crate) fn missing_metadata(path: &Path, key: impl Into<String>) -> Self {
        Self::MissingMetadata {
            path: path.to_path_buf(),
            key: key.into(),
        }
    }

    pub(crate) fn not_writable(path: &Path, source: std::io::Error) -> Self {
        Self::OutputNotWritable {
            path: path.to_path_buf(),
            source,
        }
    }
}
