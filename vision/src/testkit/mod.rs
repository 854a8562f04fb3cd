//! Tiny random-weight checkpoints that mistral.rs loads, for tests, benchmarks and demos.
//!
//! Everything is generated from a seed, so the same spec always writes the same bytes:
//!
//! - [`write_mllama`]: a Llama 3.2 Vision (mllama) safetensors directory with `config.json`,
//!   `model.safetensors`, a byte-level BPE `tokenizer.json`, `tokenizer_config.json` with the
//!   Llama 3 chat template, `preprocessor_config.json` and `generation_config.json`.
//! - [`write_gguf`]: a llama-architecture GGUF file with a `gpt2` (byte-level BPE) tokenizer
//!   and the Llama 3 chat template in its metadata.
//!
//! The weights are random: the models produce arbitrary tokens, but every code path of a real
//! model of the same architecture runs (prompt templating, image preprocessing, cross
//! attention, KV and prefix caches, constrained decoding).
//!
//! ```
//! use argus_vision::testkit::{write_gguf, GgufSpec};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("tiny.gguf");
//! let checkpoint = write_gguf(&path, &GgufSpec::default()).unwrap();
//! assert!(checkpoint.parameters > 10_000);
//! assert_eq!(std::fs::read(&path).unwrap()[..4], *b"GGUF");
//! ```

mod call_once;
mod gguf;
mod mllama;
#[cfg(feature = "mistralrs")]
mod real_model;
#[cfg(feature = "test-server")]
mod server;
mod tokenizer;

use std::path::PathBuf;

pub use call_once::CallOnceThenAnswer;
pub use gguf::{write_gguf, GgufSpec, GgufWeights};
pub use mllama::{write_mllama, MllamaSpec};
#[cfg(feature = "mistralrs")]
pub use real_model::gemma_3_270m;
#[cfg(feature = "test-server")]
pub use server::{ServedModel, TestServer};
pub use tokenizer::{
    bytes_to_unicode, ByteLevelBpe, IMAGE_TOKEN, LLAMA3_CHAT_TEMPLATE, LLAMA3_SPECIAL_TOKENS,
};

/// Why a checkpoint could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// Writing a file failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The tokenizer could not be built or saved.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A tensor could not be built, quantised or serialised.
    #[error("tensor: {0}")]
    Tensor(String),
    /// The spec is inconsistent (e.g. heads that do not divide the hidden size).
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
    /// The test server could not load its model or start.
    #[error("test server: {0}")]
    Server(String),
    /// A socket could not be bound.
    #[error("test server socket: {0}")]
    Socket(#[from] std::io::Error),
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The directory (mllama) or file (GGUF) to load.
    pub path: PathBuf,
    /// Every file written.
    pub files: Vec<PathBuf>,
    /// Number of weights.
    pub parameters: usize,
}

/// SplitMix64: a tiny, seedable, portable PRNG (the same stream on every platform).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[-scale, scale)`.
    pub(crate) fn uniform(&mut self, scale: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        (unit * 2.0 - 1.0) * scale
    }

    /// `count` uniform values in `[-scale, scale)`.
    pub(crate) fn weights(&mut self, count: usize, scale: f32) -> Vec<f32> {
        (0..count).map(|_| self.uniform(scale)).collect()
    }
}

pub(crate) fn write_file(path: PathBuf, bytes: &[u8]) -> Result<PathBuf, TestkitError> {
    std::fs::write(&path, bytes).map_err(|source| TestkitError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_bounded() {
        let a = Rng::new(7).weights(1000, 0.5);
        assert_eq!(a, Rng::new(7).weights(1000, 0.5));
        assert_ne!(a, Rng::new(8).weights(1000, 0.5));
        assert!(a.iter().all(|x| (-0.5..0.5).contains(x)));
        let mean = a.iter().sum::<f32>() / 1000.0;
        assert!(mean.abs() < 0.05);
    }
}
