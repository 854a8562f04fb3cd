//! Model Context Protocol for Argus, on the official Rust SDK (`rmcp`).
//!
//! - [`McpClient`] connects to an MCP server (a command over stdio, or a streamable HTTP URL)
//!   and offers its tools as Argus tools; [`McpToolset`] combines several servers.
//! - [`McpToolServer`] serves a [`ToolRegistry`](argus_core::ToolRegistry) to any MCP client.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod client;
mod config;
mod content;
mod error;
mod schema;
pub mod server;
mod toolset;

pub use client::{McpClient, McpToolInfo, RejectedTool};
pub use config::{McpServerConfig, McpTransport, ParseServerError};
pub use error::McpError;
pub use toolset::{McpToolset, SkippedTool};
pub use server::{HttpServer, McpToolServer, ServeError};
