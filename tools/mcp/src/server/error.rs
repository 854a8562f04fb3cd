//! Why serving tools over MCP failed.

use std::net::SocketAddr;

/// Why [`McpToolServer`](super::McpToolServer) could not serve.
///
/// Problems with a single call are never errors of this kind: they reach the client as tool
/// results with `isError: true` (or, for an unknown tool, as a protocol error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A name given to [`allow`](super::McpToolServer::allow) is not a tool of the registry.
    #[error("there is no tool named `{name}` to allow; available tools: {available}")]
    UnknownTool {
        /// The name as given.
        name: String,
        /// The registry's tools, comma-separated (`none` when empty).
        available: String,
    },
    /// The HTTP address is not a loopback address. The server has no authentication and
    /// accepts only loopback `Host` headers, so it never listens beyond this machine.
    #[error("{0} is not a loopback address: serve MCP over HTTP on 127.0.0.1 or [::1] only")]
    NotLoopback(SocketAddr),
    /// The HTTP address could not be bound (in use, or not an address of this machine).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server stopped on an I/O error.
    #[error("the MCP HTTP server failed: {0}")]
    Http(#[source] std::io::Error),
    /// The client never completed the MCP handshake over stdio (it closed the stream or sent
    /// something else first). Boxed: rmcp's error is large.
    #[error("the MCP client did not initialize the session: {0}")]
    Initialize(#[source] Box<rmcp::service::ServerInitializeError>),
    /// The task serving the session panicked or was aborted.
    #[error("the MCP session ended abnormally: {0}")]
    Session(#[source] tokio::task::JoinError),
}
