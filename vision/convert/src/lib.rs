#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod arch;
mod cache;
mod config;
mod convert;
mod error;
mod gguf;
mod tokenizer;
mod weights;

pub use arch::{is_convertible, supported_architectures};
pub use cache::{convert_cached, convert_cached_with, file_sha256};
pub use convert::{convert, Conversion, ConvertOptions, OutputDType, Progress, Stage};
pub use error::{Error, Result};
pub use gguf::GgufMetadata;

/// Reads a GGUF's `general.architecture` (only as much of the header as it takes; no tensor data).
///
/// ```no_run
/// let arch = argus_convert::read_architecture("model.gguf".as_ref())?;
/// if argus_convert::is_convertible(&arch) {
///     // convert it
/// }
/// # Ok::<(), argus_convert::Error>(())
/// ```
pub fn read_architecture(path: &std::path::Path) -> Result<String> {
    gguf::read_architecture(path)
}

/// Reads a GGUF's metadata, checking the whole header and that every tensor's data lies inside the file (no
/// tensor data is read). A file that is not a GGUF or is cut short is an [`Error::NotGguf`] or [`Error::Corrupt`].
///
/// ```no_run
/// let metadata = argus_convert::read_metadata("model.gguf".as_ref())?;
/// println!("{:?}", metadata.string("tokenizer.chat_template"));
/// # Ok::<(), argus_convert::Error>(())
/// ```
pub fn read_metadata(path: &std::path::Path) -> Result<GgufMetadata> {
    GgufMetadata::read(path)
}
