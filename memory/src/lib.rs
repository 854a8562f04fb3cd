#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod error;
mod rows;
mod sqlite;

pub use error::Error;
pub use sqlite::{Durability, SqliteMemory};

/// The export format and run-log entries, defined in the kernel for every store.
pub use argus_core::{LoggedStep, SessionExport};
