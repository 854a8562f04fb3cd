#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod agent;
mod error_kind;
mod history;
mod memory;
mod message;
mod model;
mod parse;
mod tool;
mod usage;

pub use agent::*;
pub use error_kind::ToolErrorKind;
pub use history::{History, HistoryIter};
pub use memory::*;
pub use message::*;
pub use model::*;
pub use parse::*;
pub use tool::*;
pub use usage::Usage;

pub use async_trait::async_trait;
pub use tokio_util::sync::CancellationToken;
