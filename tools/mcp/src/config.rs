//! Where an MCP server is and how Argus treats it.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use argus_core::shown_url;
use argus_ingest::ImageLimits;

/// How Argus reaches an MCP server.
#[derive(Clone, PartialEq, Eq)]
pub enum McpTransport {
    /// A command Argus starts, speaking MCP on its stdin and stdout.
    Stdio {
        /// The program.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Variables added to the inherited environment.
        env: Vec<(String, String)>,
    },
    /// A streamable HTTP endpoint, e.g. `http://127.0.0.1:3001/mcp`.
    Http {
        /// The endpoint's URL.
        url: String,
    },
}

impl fmt::Debug for McpTransport {
    /// Environment values are left out: they often hold keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            McpTransport::Stdio { command, args, env } => f
                .debug_struct("Stdio")
                .field("command", command)
                .field("args", args)
                .field("env", &env.iter().map(|(k, _)| k).collect::<Vec<_>>())
                .finish(),
            McpTransport::Http { url } => f
                .debug_struct("Http")
                .field("url", &shown_url(url))
                .finish(),
        }
    }
}

impl fmt::Display for McpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            McpTransport::Stdio { command, args, .. } => {
                write!(f, "{command}")?;
                for arg in args {
                    write!(f, " {arg}")?;
                }
                Ok(())
            }
            McpTransport::Http { url } => f.write_str(&shown_url(url)),
        }
    }
}

/// One MCP server: its name, how to reach it, and the limits Argus applies to it.
///
/// Parsed from the CLI's `NAME=COMMAND ARGS…` or `NAME=http://…`:
///
/// ```
/// use argus_mcp::{McpServerConfig, McpTransport};
///
/// let files: McpServerConfig = "files=npx -y @modelcontextprotocol/server-filesystem /tmp".parse().unwrap();
/// assert_eq!(files.name, "files");
/// assert!(matches!(files.transport, McpTransport::Stdio { ref command, .. } if command == "npx"));
///
/// let remote: McpServerConfig = "everything=http://127.0.0.1:3001/mcp".parse().unwrap();
/// assert!(matches!(remote.transport, McpTransport::Http { .. }));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct McpServerConfig {
    /// The server's name: it prefixes its tools' names when two servers offer the same one.
    pub name: String,
    /// How to reach it.
    pub transport: McpTransport,
    /// Time allowed to start (or reach) the server and list its tools (default 30 s).
    pub connect_timeout: Duration,
    /// Time allowed for one tool call (default 60 s); a call that takes longer is cancelled on
    /// the server, fails with a timeout, and the next call reconnects.
    pub call_timeout: Duration,
    /// Limits on the images a tool returns (the same as for any image Argus ingests).
    pub image_limits: ImageLimits,
    /// Cap on the text of one result, in bytes (default 1 MiB); longer text is cut with a
    /// marker. The registry's own output cap still applies after it.
    pub max_result_bytes: usize,
    /// Tools treated as read-only whatever the server says (by the server's tool name).
    pub trusted_read_only: Vec<String>,
}

impl McpServerConfig {
    /// A server with the default limits.
    pub fn new(name: impl Into<String>, transport: McpTransport) -> Self {
        McpServerConfig {
            name: name.into(),
            transport,
            connect_timeout: Duration::from_secs(30),
            call_timeout: Duration::from_secs(60),
            image_limits: ImageLimits::default(),
            max_result_bytes: 1 << 20,
            trusted_read_only: Vec::new(),
        }
    }

    /// A server started as `command args…`.
    pub fn stdio<I, S>(name: impl Into<String>, command: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        McpServerConfig::new(
            name,
            McpTransport::Stdio {
                command: command.into(),
                args: args.into_iter().map(Into::into).collect(),
                env: Vec::new(),
            },
        )
    }

    /// A server at a streamable HTTP URL.
    pub fn http(name: impl Into<String>, url: impl Into<String>) -> Self {
        McpServerConfig::new(name, McpTransport::Http { url: url.into() })
    }

    /// Adds an environment variable for a stdio server (no effect over HTTP).
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        if let McpTransport::Stdio { env, .. } = &mut self.transport {
            env.push((key.into(), value.into()));
        }
        self
    }

    /// Sets the time allowed to connect and list tools.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the time allowed for one tool call.
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Sets the limits on returned images.
    pub fn with_image_limits(mut self, limits: ImageLimits) -> Self {
        self.image_limits = limits;
        self
    }

    /// Sets the cap on a result's text.
    pub fn with_max_result_bytes(mut self, bytes: usize) -> Self {
        self.max_result_bytes = bytes;
        self
    }

    /// Runs these tools without asking approval, whatever the server's annotations say.
    pub fn trust_read_only<I, S>(mut self, tools: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.trusted_read_only
            .extend(tools.into_iter().map(Into::into));
        self
    }
}

/// Why a server description did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseServerError {
    /// No `NAME=` before the command or URL.
    #[error("expected NAME=COMMAND ARGS… or NAME=http://…, got `{0}`")]
    MissingName(String),
    /// The name is empty or has characters a tool name cannot carry.
    #[error("the server name `{0}` may hold only letters, digits, `_` and `-`")]
    InvalidName(String),
    /// Nothing after `NAME=`.
    #[error("no command or URL after `{0}=`")]
    Empty(String),
    /// Unbalanced quotes in the command.
    #[error("unbalanced quotes in the command of `{0}`")]
    Quotes(String),
}

impl FromStr for McpServerConfig {
    type Err = ParseServerError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, target) = text
            .split_once('=')
            .ok_or_else(|| ParseServerError::MissingName(text.to_string()))?;
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ParseServerError::InvalidName(name.to_string()));
        }
        let target = target.trim();
        if target.starts_with("http://") || target.starts_with("https://") {
            return Ok(McpServerConfig::http(name, target));
        }
        let words = shlex::split(target).ok_or_else(|| ParseServerError::Quotes(name.into()))?;
        let mut words = words.into_iter();
        let command = words
            .next()
            .ok_or_else(|| ParseServerError::Empty(name.to_string()))?;
        Ok(McpServerConfig::stdio(name, command, words))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_like_a_shell_and_urls_stay_whole() {
        let config: McpServerConfig = "fs=node 'my server.js' --root /tmp".parse().unwrap();
        assert_eq!(
            config.transport,
            McpTransport::Stdio {
                command: "node".into(),
                args: vec!["my server.js".into(), "--root".into(), "/tmp".into()],
                env: vec![],
            }
        );
        let config: McpServerConfig = "web=https://example.test/mcp?key=1".parse().unwrap();
        assert_eq!(config.transport.to_string(), "https://example.test/mcp");
    }

    #[test]
    fn bad_descriptions_are_typed_errors() {
        assert!(matches!(
            "my server=node server.js".parse::<McpServerConfig>(),
            Err(ParseServerError::InvalidName(_))
        ));
        assert!(matches!(
            "node server.js".parse::<McpServerConfig>(),
            Err(ParseServerError::MissingName(_))
        ));
        assert!(matches!(
            "a=".parse::<McpServerConfig>(),
            Err(ParseServerError::Empty(_))
        ));
        assert!(matches!(
            "a=node 'open".parse::<McpServerConfig>(),
            Err(ParseServerError::Quotes(_))
        ));
    }

    #[test]
    fn urls_lose_credentials_and_queries_and_env_values_stay_out_of_debug() {
        let config: McpServerConfig = "a=https://user:secret@host:8/mcp?token=x".parse().unwrap();
        assert_eq!(config.transport.to_string(), "https://host:8/mcp");
        let config = McpServerConfig::stdio("a", "srv", ["x"]).with_env("API_KEY", "hunter2");
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
