//! Image ingestion: files, URLs, bytes and base64 in; a content-hashed [`ImageRef`] and a
//! model-ready RGB image out.
//!
//! [`ImageRef`]: argus_core::ImageRef

mod error;
mod fetch;
mod format;
mod limits;
mod load;
mod resize;
mod source;

pub use error::ImageLoadError;
pub use limits::ImageLimits;
pub use load::{ImageInfo, ImageLoader, LoadedImage};
pub use resize::{fit_within, to_model_rgb, ResizeFilter};
pub use source::ImageSource;
