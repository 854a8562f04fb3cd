//! Argus tools served to MCP clients.
