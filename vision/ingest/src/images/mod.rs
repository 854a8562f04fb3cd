//! Image ingestion: encoded bytes from files, URLs, bytes and base64, read within
//! [`ImageLimits`], probed and decoded with every check.

mod decode;
mod error;
mod format;
mod limits;
mod source;

pub use decode::{decode, probe, DecodedImage, ImageInfo};
pub use error::ImageLoadError;
pub use limits::ImageLimits;
pub use source::ImageSource;
