//! Image ingestion: files, URLs, bytes and base64 in; a content-hashed [`ImageRef`] and a
//! model-ready RGB image out.
//!
//! [`ImageRef`]: argus_core::ImageRef

mod load;
mod resize;

pub use argus_ingest::{
    FetchError, GuardedFetcher, ImageInfo, ImageLimits, ImageLoadError, ImageSource, NetworkGuard,
};
pub use load::{ImageLoader, LoadedImage};
pub use resize::{fit_within, to_model_rgb, ResizeFilter};
