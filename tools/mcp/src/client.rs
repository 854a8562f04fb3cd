//! A connection to one MCP server, and its tools as Argus tools.

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use argus_core::{
    shown_urls_in, FnTool, ToolContext, ToolErrorKind, ToolFailure, ToolPolicy, ToolSpec,
};
use futures::future::BoxFuture;
use futures::StreamExt;
use rmcp::model::{CallToolRequestParams, Tool};
use rmcp::service::{NotificationContext, RoleClient, RunningService};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ServiceExt};
use serde_json::Value;
use tokio::sync::Mutex;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};

use crate::config::{McpServerConfig, McpTransport};
use crate::content::to_output;
use crate::error::McpError;
use crate::schema::check_input_schema;

/// A tool a server offers that Argus does not, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedTool {
    /// The tool's name on the server.
    pub name: String,
    /// Why it is left out.
    pub reason: String,
}

/// A tool of an MCP server as listed, with its checked schema.
#[derive(Debug, Clone)]
pub struct McpToolInfo {
    /// The name on the server.
    pub name: String,
    /// What the server says it does.
    pub description: String,
    /// Its input schema (an object schema).
    pub input_schema: Value,
    /// Whether the server marks it read-only (`readOnlyHint`).
    pub read_only: bool,
}

/// Notes the server's `notifications/tools/list_changed`.
#[derive(Clone, Default)]
struct Listener {
    tools_changed: Arc<AtomicBool>,
}

impl ClientHandler for Listener {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.tools_changed.store(true, Ordering::SeqCst);
    }
}

type Connection = RunningService<RoleClient, Listener>;

/// A client of one MCP server, shared by the tools it offers.
///
/// Connects on [`McpClient::connect`] and again on the next call after the server crashed,
/// hung past its call timeout or closed the connection. Calls run concurrently over one
/// connection.
#[derive(Clone)]
pub struct McpClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: McpServerConfig,
    connection: Mutex<Option<Arc<Connection>>>,
    tools: std::sync::Mutex<Vec<McpToolInfo>>,
    rejected: std::sync::Mutex<Vec<RejectedTool>>,
    tools_changed: Arc<AtomicBool>,
}

impl std::fmt::Debug for McpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpClient")
            .field("name", &self.inner.config.name)
            .field("transport", &self.inner.config.transport)
            .finish_non_exhaustive()
    }
}

impl McpClient {
    /// Starts or reaches the server, completes the handshake and lists its tools.
    pub async fn connect(config: McpServerConfig) -> Result<McpClient, McpError> {
        let client = McpClient {
            inner: Arc::new(Inner {
                config,
                connection: Mutex::new(None),
                tools: std::sync::Mutex::new(Vec::new()),
                rejected: std::sync::Mutex::new(Vec::new()),
                tools_changed: Arc::new(AtomicBool::new(false)),
            }),
        };
        client.refresh_tools().await?;
        Ok(client)
    }

    /// The server's name.
    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    /// The configuration it was connected with.
    pub fn config(&self) -> &McpServerConfig {
        &self.inner.config
    }

    /// The tools as last listed (schemas checked).
    pub fn tool_infos(&self) -> Vec<McpToolInfo> {
        lock(&self.inner.tools).clone()
    }

    /// The tools left out at the last listing, with the reason.
    pub fn rejected_tools(&self) -> Vec<RejectedTool> {
        lock(&self.inner.rejected).clone()
    }

    /// Whether the server said its tool list changed since the last listing.
    pub fn tools_changed(&self) -> bool {
        self.inner.tools_changed.load(Ordering::SeqCst)
    }

    /// Lists the server's tools again (reconnecting if needed) and returns them.
    pub async fn refresh_tools(&self) -> Result<Vec<McpToolInfo>, McpError> {
        let connection = self.connection().await?;
        self.inner.tools_changed.store(false, Ordering::SeqCst);
        let listed = tokio::time::timeout(
            self.inner.config.connect_timeout,
            connection.peer().list_all_tools(),
        )
        .await
        .map_err(|_| McpError::Timeout {
            server: self.name().to_string(),
            what: "tools/list",
            timeout: self.inner.config.connect_timeout,
        })?
        .map_err(|error| McpError::Request {
            server: self.name().to_string(),
            what: "tools/list",
            reason: shown_urls_in(&error.to_string()),
        })?;
        let (tools, rejected) = self.check_tools(listed);
        for tool in &rejected {
            tracing::warn!(server = %self.name(), tool = %tool.name, reason = %tool.reason, "MCP tool left out");
        }
        *lock(&self.inner.tools) = tools.clone();
        *lock(&self.inner.rejected) = rejected;
        Ok(tools)
    }

    /// The server's tools as Argus tools, named as on the server.
    ///
    /// Each is side-effecting (the agent asks approval) unless the server marks it
    /// `readOnlyHint` or the configuration trusts it; its timeout is the server's call
    /// timeout. Use [`McpToolset`](crate::McpToolset) to combine servers with clashing names.
    pub fn tools(&self) -> Vec<FnTool> {
        self.tool_infos()
            .into_iter()
            .map(|info| {
                let name = info.name.clone();
                self.tool(info, name)
            })
            .collect()
    }

    /// One listed tool as an Argus tool called `exposed_name`.
    pub(crate) fn tool(&self, info: McpToolInfo, exposed_name: String) -> FnTool {
        let read_only = info.read_only || self.inner.config.trusted_read_only.contains(&info.name);
        let base = if read_only {
            ToolPolicy::read_only()
        } else {
            ToolPolicy::side_effecting()
        };
        // The client's own timeout cancels the call and resets the connection; the
        // registry's is a backstop.
        let policy = base.with_timeout(self.inner.config.call_timeout + Duration::from_secs(5));
        let spec = ToolSpec {
            name: exposed_name,
            description: info.description,
            parameters: info.input_schema,
        };
        let client = self.clone();
        let server_name = info.name;
        FnTool::new(
            spec,
            policy,
            move |args: Value, ctx: ToolContext| -> BoxFuture<'static, _> {
                let client = client.clone();
                let name = server_name.clone();
                Box::pin(async move { client.call(&name, args, ctx).await })
            },
        )
    }

    /// Calls a tool by its name on the server. Every problem is a [`ToolFailure`].
    pub async fn call(
        &self,
        name: &str,
        args: Value,
        ctx: ToolContext,
    ) -> Result<Value, ToolFailure> {
        let server = self.name();
        let Value::Object(arguments) = args else {
            return Err(ToolFailure::new(
                ToolErrorKind::InvalidArguments,
                "the arguments must be a JSON object",
            ));
        };
        let connection = self
            .connection()
            .await
            .map_err(|error| ToolFailure::new(ToolErrorKind::Failed, error.to_string()))?;
        let params = CallToolRequestParams::new(name.to_string()).with_arguments(arguments);
        let timeout = self.inner.config.call_timeout;
        // Dropping the request (cancellation, timeout) sends `notifications/cancelled`.
        let outcome = tokio::select! {
            outcome = tokio::time::timeout(timeout, connection.peer().call_tool(params)) => outcome,
            () = ctx.cancellation().cancelled() => {
                return Err(ToolFailure::new(ToolErrorKind::Cancelled, "the run was cancelled"));
            }
        };
        match outcome {
            Err(_) => {
                self.reset(&connection).await;
                Err(ToolFailure::new(
                    ToolErrorKind::Timeout,
                    format!(
                        "the MCP server `{server}` did not answer within {timeout:?}; \
                         the call was cancelled and the next one reconnects"
                    ),
                ))
            }
            Ok(Err(error)) => {
                let closed = connection.is_closed() || connection.peer().is_transport_closed();
                if closed {
                    self.reset(&connection).await;
                }
                Err(ToolFailure::new(
                    ToolErrorKind::Failed,
                    if closed {
                        format!(
                            "the MCP server `{server}` closed the connection ({}); the next call reconnects",
                            shown_urls_in(&error.to_string())
                        )
                    } else {
                        format!(
                            "the MCP server `{server}` refused the call: {}",
                            shown_urls_in(&error.to_string())
                        )
                    },
                ))
            }
            Ok(Ok(result)) => {
                to_output(
                    result,
                    &ctx,
                    &self.inner.config.image_limits,
                    self.inner.config.max_result_bytes,
                )
                .await
            }
        }
    }

    /// Closes the connection (a stdio server's process is stopped).
    pub async fn close(&self) {
        if let Some(connection) = self.inner.connection.lock().await.take() {
            connection.cancellation_token().cancel();
        }
    }

    /// The live connection, made anew when there is none or it closed.
    async fn connection(&self) -> Result<Arc<Connection>, McpError> {
        let mut slot = self.inner.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            if !connection.is_closed() && !connection.peer().is_transport_closed() {
                return Ok(Arc::clone(connection));
            }
        }
        let config = &self.inner.config;
        let connection = tokio::time::timeout(config.connect_timeout, self.open())
            .await
            .map_err(|_| McpError::Timeout {
                server: config.name.clone(),
                what: "the handshake",
                timeout: config.connect_timeout,
            })??;
        let connection = Arc::new(connection);
        *slot = Some(Arc::clone(&connection));
        Ok(connection)
    }

    /// Drops `stale` if it is still the current connection.
    async fn reset(&self, stale: &Arc<Connection>) {
        let mut slot = self.inner.connection.lock().await;
        if slot
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, stale))
        {
            if let Some(connection) = slot.take() {
                connection.cancellation_token().cancel();
            }
        }
    }

    async fn open(&self) -> Result<Connection, McpError> {
        let config = &self.inner.config;
        let listener = Listener {
            tools_changed: Arc::clone(&self.inner.tools_changed),
        };
        let handshake = |error: &dyn std::fmt::Display| McpError::Handshake {
            server: config.name.clone(),
            target: config.transport.to_string(),
            reason: shown_urls_in(&error.to_string()),
        };
        match &config.transport {
            McpTransport::Stdio { command, args, env } => {
                let mut cmd = tokio::process::Command::new(command);
                cmd.args(args).envs(env.iter().cloned()).kill_on_drop(true);
                let (transport, stderr) = TokioChildProcess::builder(cmd)
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|source| McpError::Spawn {
                        server: config.name.clone(),
                        command: config.transport.to_string(),
                        source,
                    })?;
                if let Some(stderr) = stderr {
                    forward_stderr(config.name.clone(), stderr);
                }
                listener
                    .serve(transport)
                    .await
                    .map_err(|error| handshake(&error))
            }
            McpTransport::Http { url } => {
                let transport = StreamableHttpClientTransport::from_uri(url.as_str());
                listener
                    .serve(transport)
                    .await
                    .map_err(|error| handshake(&error))
            }
        }
    }

    /// Splits a listing into usable tools and rejected ones.
    fn check_tools(&self, listed: Vec<Tool>) -> (Vec<McpToolInfo>, Vec<RejectedTool>) {
        let mut tools = Vec::new();
        let mut rejected = Vec::new();
        for tool in listed {
            let name = tool.name.to_string();
            match check_input_schema(&tool.input_schema) {
                Ok(()) => tools.push(McpToolInfo {
                    description: tool
                        .description
                        .map(|text| text.to_string())
                        .or(tool.title)
                        .unwrap_or_default(),
                    input_schema: Value::Object((*tool.input_schema).clone()),
                    read_only: tool
                        .annotations
                        .as_ref()
                        .and_then(|annotations| annotations.read_only_hint)
                        == Some(true),
                    name,
                }),
                Err(reason) => rejected.push(RejectedTool {
                    name,
                    reason: format!("its input schema is not usable: {reason}"),
                }),
            }
        }
        (tools, rejected)
    }
}

/// Logs what a stdio server writes on stderr, line by line (each cut at 16 KiB), at debug level.
fn forward_stderr(server: String, stderr: tokio::process::ChildStderr) {
    tokio::spawn(async move {
        let mut lines = FramedRead::new(stderr, LinesCodec::new_with_max_length(16 * 1024));
        while let Some(line) = lines.next().await {
            match line {
                Ok(line) => {
                    tracing::debug!(target: "argus_mcp::server_stderr", server = %server, "{line}")
                }
                Err(LinesCodecError::MaxLineLengthExceeded) => continue,
                Err(LinesCodecError::Io(_)) => break,
            }
        }
    });
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
