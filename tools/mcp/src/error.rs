//! What can go wrong reaching an MCP server.

use std::time::Duration;

/// A server that could not be reached, started or understood.
///
/// Failures of single tool calls are not errors of this type: they reach the model as tool
/// failures it can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum McpError {
    /// The command could not be started (not found, not executable).
    #[error("MCP server `{server}`: could not start `{command}`: {source}")]
    Spawn {
        /// The server's name.
        server: String,
        /// The command line.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// The MCP handshake failed: the process exited, wrote something that is not MCP, or the
    /// HTTP endpoint refused or is not an MCP server.
    #[error("MCP server `{server}` ({target}) did not complete the MCP handshake: {reason}")]
    Handshake {
        /// The server's name.
        server: String,
        /// The command line or URL (without credentials).
        target: String,
        /// What the transport reported.
        reason: String,
    },
    /// The server did not answer within the time allowed.
    #[error("MCP server `{server}` did not answer {what} within {timeout:?}")]
    Timeout {
        /// The server's name.
        server: String,
        /// The request waited on.
        what: &'static str,
        /// The time allowed.
        timeout: Duration,
    },
    /// A request failed after the handshake (e.g. listing tools).
    #[error("MCP server `{server}`: {what} failed: {reason}")]
    Request {
        /// The server's name.
        server: String,
        /// The request.
        what: &'static str,
        /// What the server or transport reported.
        reason: String,
    },
    /// Two servers share a name.
    #[error("two MCP servers are named `{0}`")]
    DuplicateServer(String),
}
