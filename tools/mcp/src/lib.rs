//! Model Context Protocol for Argus, on the official Rust SDK (`rmcp`).
//!
//! - [`McpClient`]: connects to an MCP server (a command over stdio, or a streamable HTTP URL)
//!   and offers its tools as Argus tools.
//! - [`server`]: serves a [`ToolRegistry`](argus_core::ToolRegistry) to any MCP client.

mod client;
pub mod server;

pub use server::{HttpServer, McpToolServer, ServeError};
