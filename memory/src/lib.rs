#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod checkpoint;
mod context;
mod error;
mod export;
mod rows;
mod schema;
mod search;
mod store;

pub use error::Error;
pub use schema::Durability;
pub use store::SqliteMemory;

/// The export format and run-log entries, defined in the kernel for every store.
pub use argus_core::{LoggedStep, SessionExport};
