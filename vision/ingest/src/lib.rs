#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod fetch;
mod images;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use fetch::{
    BlockedAddress, FetchError, FetchedBody, GuardedFetcher, NetworkGuard, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_REDIRECTS, DEFAULT_READ_TIMEOUT, DEFAULT_TOTAL_TIMEOUT,
};
pub use images::{
    decode, probe, DecodedImage, ImageInfo, ImageLimits, ImageLoadError, ImageSource,
};
