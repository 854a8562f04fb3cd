//! Several MCP servers' tools in one registry, with clashing names told apart.

use std::collections::HashMap;

use argus_core::{RegistryError, ToolRegistry};

use crate::client::{McpClient, RejectedTool};
use crate::config::McpServerConfig;
use crate::error::McpError;

/// The connected servers of an agent.
///
/// A tool keeps its server's name unless another server, or a tool already in the registry,
/// has the same; then each clashing tool is called `SERVER_TOOL`.
#[derive(Debug, Clone, Default)]
pub struct McpToolset {
    clients: Vec<McpClient>,
}

/// A tool that could not join the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedTool {
    /// The server's name.
    pub server: String,
    /// Why the tool is not offered.
    pub tool: RejectedTool,
}

impl McpToolset {
    /// Connects to every server, in order; the first that fails ends it with its error.
    pub async fn connect(
        configs: impl IntoIterator<Item = McpServerConfig>,
    ) -> Result<Self, McpError> {
        let mut toolset = McpToolset::default();
        for config in configs {
            if toolset
                .clients
                .iter()
                .any(|client| client.name() == config.name)
            {
                return Err(McpError::DuplicateServer(config.name));
            }
            toolset.clients.push(McpClient::connect(config).await?);
        }
        Ok(toolset)
    }

    /// A toolset over clients already connected.
    pub fn from_clients(clients: Vec<McpClient>) -> Self {
        McpToolset { clients }
    }

    /// The clients.
    pub fn clients(&self) -> &[McpClient] {
        &self.clients
    }

    /// Adds every server's tools to `registry`. Returns the tools left out: those whose
    /// schema the client rejected and those the registry refused (e.g. an invalid `pattern`).
    pub fn register_into(&self, registry: &mut ToolRegistry) -> Vec<SkippedTool> {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for client in &self.clients {
            for info in client.tool_infos() {
                *counts.entry(info.name).or_default() += 1;
            }
        }
        let mut skipped = Vec::new();
        for client in &self.clients {
            skipped.extend(client.rejected_tools().into_iter().map(|tool| SkippedTool {
                server: client.name().to_string(),
                tool,
            }));
            for info in client.tool_infos() {
                let clashes = counts[&info.name] > 1 || registry.get(&info.name).is_some();
                let exposed = if clashes {
                    format!("{}_{}", client.name(), info.name)
                } else {
                    info.name.clone()
                };
                let name = info.name.clone();
                if let Err(error) = registry.register(client.tool(info, exposed)) {
                    let reason = match error {
                        RegistryError::InvalidName(_) => {
                            "its name has characters models cannot write".to_string()
                        }
                        other => other.to_string(),
                    };
                    tracing::warn!(server = %client.name(), tool = %name, %reason, "MCP tool left out");
                    skipped.push(SkippedTool {
                        server: client.name().to_string(),
                        tool: RejectedTool { name, reason },
                    });
                }
            }
        }
        skipped
    }

    /// Closes every connection.
    pub async fn close(&self) {
        for client in &self.clients {
            client.close().await;
        }
    }
}
