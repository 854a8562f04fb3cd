//! Clients of MCP servers.
