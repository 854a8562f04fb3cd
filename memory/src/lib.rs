#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod error;
#[cfg(feature = "postgres")]
mod postgres;
mod rows;
mod sqlite;
#[cfg(all(feature = "testkit", unix))]
pub mod testkit;

pub use error::Error;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresMemory, PostgresOptions};
pub use sqlite::{Durability, SqliteMemory};

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The export format and run-log entries, defined in the kernel for every store.
pub use argus_core::{LoggedStep, SessionExport};
