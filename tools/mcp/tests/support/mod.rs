//! What the MCP tests share: the pinned npm peers.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

/// The folder holding the peers' `package.json`.
pub fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// An installed peer's executable (`mcp-server-everything`, `mcp-server-filesystem`,
/// `mcp-inspector`). Panics with the install command when it is missing: these tests
/// fail rather than skip.
pub fn peer_bin(name: &str) -> PathBuf {
    let path = peers_dir().join("node_modules/.bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: install the MCP test peers with \
         `npm install --prefix tools/mcp/tests/peers --ignore-scripts` (needs Node.js 20+)",
        path.display()
    );
    path
}
