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
pub use export::{LoggedStep, SessionExport};
pub use schema::Durability;
pub use store::SqliteMemory;
