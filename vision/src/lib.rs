#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod images;
#[cfg(feature = "mistralrs")]
mod model;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use images::*;
#[cfg(feature = "mistralrs")]
pub use model::*;
