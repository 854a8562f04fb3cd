//! `argus mcp`: the Model Context Protocol. `serve` offers the built-in tools to MCP clients;
//! `list` shows what an MCP server offers.

use std::net::SocketAddr;
use std::path::PathBuf;

use argus_core::{CancellationToken, ToolRegistry};
use argus_mcp::{McpClient, McpError, McpServerConfig, McpToolServer, McpToolset, ServeError};

use crate::assistant::builtin_tools;
use crate::exit::UserError;

/// Arguments of `argus mcp`.
#[derive(Debug, clap::Args)]
pub(crate) struct McpArgs {
    #[command(subcommand)]
    command: McpCommand,
}

/// The `argus mcp` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum McpCommand {
    /// Serve the built-in tools to MCP clients: over stdio (default) or streamable HTTP.
    Serve(ServeArgs),
    /// Connect to an MCP server and print its tools: schema, and whether Argus asks before
    /// running each (it does unless the server marks the tool read-only).
    List(ListArgs),
}

/// Arguments of `argus mcp list`.
#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    /// The server: `NAME='COMMAND ARGS…'` (started, over stdio) or `NAME=http://HOST:PORT/mcp`.
    #[arg(value_name = "NAME=SERVER")]
    server: McpServerConfig,
    /// One JSON object per tool instead of the listing.
    #[arg(long)]
    json: bool,
}

/// Arguments of `argus mcp serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Serve streamable HTTP at http://ADDR/mcp instead of stdio; a loopback address only,
    /// e.g. 127.0.0.1:8808 (port 0 picks a free port; the URL is printed on stderr).
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Let clients run this side-effecting tool (e.g. write_file); repeat for several. Without
    /// it such tools are refused: a server has no terminal to ask.
    #[arg(long = "allow", value_name = "TOOL")]
    allow: Vec<String>,
    /// The directory the file tools may read and write (default: the current directory).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
}

/// Runs `argus mcp`.
pub(crate) async fn run(args: &McpArgs) -> anyhow::Result<()> {
    match &args.command {
        McpCommand::Serve(serve) => run_serve(serve).await,
        McpCommand::List(list) => run_list(list).await,
    }
}

/// Prints the server's tools, then those Argus leaves out and why.
async fn run_list(args: &ListArgs) -> anyhow::Result<()> {
    let client = McpClient::connect(args.server.clone())
        .await
        .map_err(connect_error)?;
    for tool in client.tool_infos() {
        if args.json {
            println!(
                "{}",
                serde_json::json!({
                    "name": tool.name,
                    "description": tool.description,
                    "read_only": tool.read_only,
                    "input_schema": tool.input_schema,
                })
            );
        } else {
            let effect = if tool.read_only {
                "read-only"
            } else {
                "asks approval"
            };
            println!("{} ({effect})", tool.name);
            if !tool.description.is_empty() {
                println!("  {}", tool.description.replace('\n', "\n  "));
            }
            println!("  input: {}", tool.input_schema);
        }
    }
    for rejected in client.rejected_tools() {
        eprintln!(
            "warning: tool `{}` left out: {}",
            rejected.name, rejected.reason
        );
    }
    client.close().await;
    Ok(())
}

/// Connects the `--mcp` servers of `run`, `chat` or `eval`; `None` without any.
pub(crate) async fn connect_servers(
    servers: &[McpServerConfig],
) -> anyhow::Result<Option<McpToolset>> {
    if servers.is_empty() {
        return Ok(None);
    }
    let toolset = McpToolset::connect(servers.to_vec())
        .await
        .map_err(connect_error)?;
    Ok(Some(toolset))
}

/// Adds the servers' tools to `tools`, saying on stderr which it left out.
pub(crate) fn add_tools(toolset: &McpToolset, tools: &mut ToolRegistry) {
    for skipped in toolset.register_into(tools) {
        eprintln!(
            "warning: MCP server `{}`: tool `{}` left out: {}",
            skipped.server, skipped.tool.name, skipped.tool.reason
        );
    }
}

/// A server that could not be reached: a command that does not exist is "not found" (exit
/// code 3), anything else a failure (exit code 1).
fn connect_error(error: McpError) -> anyhow::Error {
    match error {
        McpError::Spawn { .. } => UserError::not_found(error.to_string()).into(),
        other => other.into(),
    }
}

/// Serves the built-in tools until the client disconnects (stdio) or Ctrl-C (HTTP). Stdout
/// carries the protocol over stdio, so everything else goes to stderr.
async fn run_serve(args: &ServeArgs) -> anyhow::Result<()> {
    let tools = builtin_tools(args.workspace.as_deref(), None)?;
    let server = McpToolServer::new(tools)
        .with_implementation("argus", env!("CARGO_PKG_VERSION"))
        .allow(args.allow.iter().cloned());
    server.check().map_err(user_error)?;
    match args.http {
        None => server.serve_stdio().await.map_err(user_error),
        Some(addr) => {
            let bound = server.bind_http(addr).await.map_err(user_error)?;
            eprintln!("argus: serving MCP at {} (Ctrl-C stops)", bound.url());
            let cancel = CancellationToken::new();
            let on_interrupt = cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    on_interrupt.cancel();
                }
            });
            bound.serve(cancel).await.map_err(user_error)
        }
    }
}

/// A mistake on the command line as a usage error (exit code 2); other failures as they are.
fn user_error(error: ServeError) -> anyhow::Error {
    match error {
        ServeError::UnknownTool { .. } | ServeError::NotLoopback(_) => {
            UserError::usage(error.to_string()).into()
        }
        other => other.into(),
    }
}
