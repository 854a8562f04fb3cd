//! Argus tools served to MCP clients.
//!
//! [`McpToolServer`] is an MCP server over a [`ToolRegistry`]: `tools/list` lists the
//! registry's tools, `tools/call` runs them through the registry (so schema validation,
//! timeouts, concurrency limits and output caps apply as they do for an agent). Side-effecting
//! tools run only when the server was built allowing them by name: a server has no terminal to
//! ask for approval.

mod convert;
mod error;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use argus_core::{ToolCall, ToolContext, ToolEffect, ToolRegistry};
use axum::serve::ListenerExt as _;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::tower::StreamableHttpService;
use rmcp::transport::StreamableHttpServerConfig;
use rmcp::{ErrorData, ServerHandler, ServiceExt as _};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use error::ServeError;

/// The path the streamable HTTP endpoint is served under.
pub const HTTP_PATH: &str = "/mcp";

/// An MCP server offering the tools of a [`ToolRegistry`].
///
/// Read-only tools run for any client; a side-effecting tool runs only when allowed by name
/// with [`allow`](McpToolServer::allow), and is otherwise refused with an `isError` result.
/// Each call gets the request's cancellation: a client that cancels (or drops) the request
/// cancels the tool.
///
/// It implements rmcp's [`ServerHandler`], so it serves over any rmcp transport; stdio and
/// streamable HTTP have their own methods.
///
/// ```
/// use argus_core::{tool, ToolRegistry};
/// use argus_mcp::server::McpToolServer;
///
/// /// Adds two integers.
/// ///
/// /// # Arguments
/// /// * `a` - First addend.
/// /// * `b` - Second addend.
/// #[tool]
/// async fn add(a: i64, b: i64) -> Result<i64, String> {
///     Ok(a + b)
/// }
///
/// /// Deletes everything.
/// #[tool(side_effecting)]
/// async fn wipe() -> Result<(), String> {
///     Ok(())
/// }
///
/// let mut tools = ToolRegistry::new();
/// tools.register(Add).unwrap().register(Wipe).unwrap();
/// let server = McpToolServer::new(tools).allow(["wipe"]);
/// assert_eq!(server.tools().len(), 2);
/// assert!(server.is_allowed("wipe"));
/// // `server.serve_stdio().await` or `server.serve_http(addr, cancel).await` serves them.
/// ```
#[derive(Debug, Clone)]
pub struct McpToolServer {
    registry: Arc<ToolRegistry>,
    allowed: Arc<BTreeSet<String>>,
    implementation: Implementation,
    instructions: Option<String>,
}

impl McpToolServer {
    /// A server over `registry` (owned or shared), allowing no side-effecting tool, that
    /// introduces itself as `argus` with this crate's version.
    pub fn new(registry: impl Into<Arc<ToolRegistry>>) -> Self {
        McpToolServer {
            registry: registry.into(),
            allowed: Arc::new(BTreeSet::new()),
            implementation: Implementation::new("argus", env!("CARGO_PKG_VERSION")),
            instructions: None,
        }
    }

    /// Allows these side-effecting tools to run (adding to those already allowed). Allowing a
    /// read-only tool changes nothing; a name the registry lacks makes serving fail with
    /// [`ServeError::UnknownTool`].
    pub fn allow<I>(mut self, names: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Arc::make_mut(&mut self.allowed).extend(names.into_iter().map(Into::into));
        self
    }

    /// Sets the name and version the server gives clients in the handshake.
    pub fn with_implementation(
        mut self,
        name: impl Into<String>,
        version: impl Into<String>,
    ) -> Self {
        self.implementation = Implementation::new(name, version);
        self
    }

    /// Sets the instructions the server gives clients in the handshake.
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = Some(instructions.into());
        self
    }

    /// The tools as `tools/list` gives them, in registration order.
    pub fn tools(&self) -> Vec<Tool> {
        self.registry
            .specs()
            .iter()
            .map(|spec| convert::mcp_tool(spec, self.effect(&spec.name)))
            .collect()
    }

    /// Whether a call of the tool `name` may run: it exists and is read-only, or was allowed.
    pub fn is_allowed(&self, name: &str) -> bool {
        self.registry.get(name).is_some()
            && (self.effect(name) == ToolEffect::ReadOnly || self.allowed.contains(name))
    }

    /// Checks the server can serve: every allowed name is a tool of the registry.
    pub fn check(&self) -> Result<(), ServeError> {
        match self
            .allowed
            .iter()
            .find(|name| self.registry.get(name).is_none())
        {
            Some(name) => Err(ServeError::UnknownTool {
                name: name.clone(),
                available: self.available(),
            }),
            None => Ok(()),
        }
    }

    /// Serves one client over this process's stdin and stdout until it disconnects.
    ///
    /// Stdout carries the protocol: nothing else may write to it meanwhile (log to stderr).
    pub async fn serve_stdio(self) -> Result<(), ServeError> {
        self.check()?;
        let running = self
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|error| ServeError::Initialize(Box::new(error)))?;
        let reason = running.waiting().await.map_err(ServeError::Session)?;
        tracing::debug!(?reason, "MCP stdio session ended");
        Ok(())
    }

    /// Serves streamable HTTP at `http://ADDR/mcp` until `cancel` is cancelled.
    ///
    /// `addr` must be a loopback address ([`ServeError::NotLoopback`]); port 0 picks a free
    /// port (use [`bind_http`](McpToolServer::bind_http) to learn which).
    pub async fn serve_http(
        self,
        addr: SocketAddr,
        cancel: CancellationToken,
    ) -> Result<(), ServeError> {
        self.bind_http(addr).await?.serve(cancel).await
    }

    /// Binds the streamable HTTP endpoint at `http://ADDR/mcp` without serving yet, so the
    /// caller can learn the address (port 0 picks a free one) before clients connect.
    pub async fn bind_http(self, addr: SocketAddr) -> Result<HttpServer, ServeError> {
        self.check()?;
        if !addr.ip().is_loopback() {
            return Err(ServeError::NotLoopback(addr));
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ServeError::Bind { addr, source })?;
        Ok(HttpServer {
            server: self,
            listener,
            local_addr,
        })
    }

    /// An axum router with the streamable HTTP endpoint at [`HTTP_PATH`], whose sessions end
    /// when `cancel` is cancelled. For embedding in a larger server; it checks `Host` headers
    /// against loopback names only, as [`serve_http`](McpToolServer::serve_http) does.
    pub fn router(self, cancel: CancellationToken) -> axum::Router {
        let config = StreamableHttpServerConfig::default().with_cancellation_token(cancel);
        let service: StreamableHttpService<McpToolServer, LocalSessionManager> =
            StreamableHttpService::new(move || Ok(self.clone()), Default::default(), config);
        axum::Router::new().nest_service(HTTP_PATH, service)
    }

    fn effect(&self, name: &str) -> ToolEffect {
        self.registry
            .get(name)
            .map_or(ToolEffect::ReadOnly, |tool| tool.policy().effect)
    }

    fn available(&self) -> String {
        let names: Vec<&str> = self
            .registry
            .specs()
            .iter()
            .map(|spec| spec.name.as_str())
            .collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }

    /// Runs one `tools/call`: refuses unknown tools (protocol error) and side-effecting tools
    /// not allowed (`isError`), then runs the call through the registry with `cancel`.
    async fn call(
        &self,
        request: CallToolRequestParams,
        cancel: CancellationToken,
    ) -> Result<CallToolResult, ErrorData> {
        let name = request.name.to_string();
        if self.registry.get(&name).is_none() {
            return Err(ErrorData::invalid_params(
                format!(
                    "there is no tool named `{name}`; available tools: {}",
                    self.available()
                ),
                None,
            ));
        }
        if !self.is_allowed(&name) {
            tracing::info!(tool = %name, "refused a side-effecting tool not allowed");
            return Ok(CallToolResult::error(vec![ContentBlock::text(format!(
                "error (denied): `{name}` has side effects and this server does not allow it; \
                 restart the server with `--allow {name}` to let clients run it"
            ))]));
        }
        let arguments = request.arguments.map_or(Value::Null, Value::Object);
        let call = ToolCall::new(name, arguments);
        let ctx = ToolContext::new(call.id.clone()).with_cancellation(cancel);
        let execution = self.registry.call(&call, ctx).await;
        Ok(match execution.result {
            Ok(output) => convert::success(output),
            Err(failure) => {
                tracing::info!(tool = %call.name, %failure, "MCP tool call failed");
                convert::failure(&failure)
            }
        })
    }
}

impl ServerHandler for McpToolServer {
    fn get_info(&self) -> ServerConfig {
        let mut config = ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(self.implementation.clone());
        if let Some(instructions) = &self.instructions {
            config = config.with_instructions(instructions.clone());
        }
        config
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        let spec = self.registry.get(name)?.spec();
        Some(convert::mcp_tool(spec, self.effect(name)))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.call(request, context.ct).await.map(Into::into)
    }
}

/// A bound streamable HTTP endpoint, from [`McpToolServer::bind_http`].
#[derive(Debug)]
pub struct HttpServer {
    server: McpToolServer,
    listener: tokio::net::TcpListener,
    local_addr: SocketAddr,
}

impl HttpServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The endpoint's URL, `http://ADDR/mcp`.
    pub fn url(&self) -> String {
        format!("http://{}{HTTP_PATH}", self.local_addr)
    }

    /// Serves until `cancel` is cancelled, then ends open sessions and returns.
    pub async fn serve(self, cancel: CancellationToken) -> Result<(), ServeError> {
        tracing::info!(url = %self.url(), "serving MCP");
        let router = self.server.router(cancel.child_token());
        // Responses stream as small writes: without TCP_NODELAY each waits for the client's
        // delayed acknowledgement of the one before (40 ms on Linux).
        let listener = self.listener.tap_io(|stream| {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "TCP_NODELAY could not be set on a connection");
            }
        });
        axum::serve(listener, router)
            .with_graceful_shutdown(cancel.cancelled_owned())
            .await
            .map_err(ServeError::Http)
    }
}
