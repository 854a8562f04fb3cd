#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod client;
mod config;
mod content;
mod error;
mod schema;
pub mod server;
#[cfg(feature = "testkit")]
pub mod testkit;
mod toolset;

pub use client::{McpClient, McpToolInfo, RejectedTool};
pub use config::{McpServerConfig, McpTransport, ParseServerError};
pub use error::McpError;
pub use server::{HttpServer, McpToolServer, ServeError};
pub use toolset::{McpToolset, SkippedTool};
