//! `argus`: the Argus command-line assistant.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod assistant;
mod commands;
mod db_args;
#[cfg(feature = "local")]
mod device;
mod eval;
mod exit;
#[cfg(feature = "local")]
mod local_model;
mod model_args;
mod remote_args;
mod render;
mod serve;
mod telemetry;

/// The flag table the CLI tests run; here its rows are parsed and checked for coverage.
#[cfg(test)]
#[allow(dead_code)] // the fields only the runner reads
#[path = "../tests/cli_flags/table.rs"]
mod flag_table;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Argus: a local multimodal agent with typed tools and durable memory.
#[derive(Debug, Parser)]
#[command(name = "argus", version, about, long_about = None)]
struct Cli {
    /// Export the spans of runs, model calls and tool calls over OTLP/HTTP to the collector at
    /// this base URL (e.g. http://localhost:4318); default: OTEL_EXPORTER_OTLP_ENDPOINT, if set.
    #[arg(long, global = true, value_name = "URL")]
    otlp: Option<String>,
    /// Record messages, tool arguments and tool results in the spans (they may hold private
    /// data); by default the spans hold names, ids, token counts and error types only.
    #[arg(long, global = true)]
    trace_contents: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ask one question (optionally about images) and print the answer.
    Run(commands::run::RunArgs),
    /// Talk with the assistant: streaming answers, tools, images, a persistent session.
    Chat(commands::chat::ChatArgs),
    /// Parse a raw model output (stdin) into tool calls and text, printed as one JSON object.
    Parse(commands::parse::ParseArgs),
    /// Measure a model's tool calling: selection, arguments, valid calls and time per case.
    Eval(commands::eval::EvalArgs),
    /// List, show, search, export, import or delete stored sessions.
    Sessions(commands::sessions::SessionsArgs),
    /// Model Context Protocol: serve the built-in tools to MCP clients.
    Mcp(commands::mcp::McpArgs),
    /// Serve the agent over an OpenAI-compatible HTTP API, and its sessions in a trace viewer.
    ///
    /// Look at traces: open http://127.0.0.1:8080/ for the sessions (with search) and each
    /// session's timeline: messages, images, every model call's tokens and timings, every tool
    /// call's arguments, result or failure and duration, live while a run streams.
    ///
    /// Call the agent over HTTP: POST /v1/chat/completions from any OpenAI client (streaming or
    /// not); name the session with the X-Argus-Session header (or `user`) to continue it.
    ///
    /// Run replicas: start several `argus serve` on one PostgreSQL database (--db
    /// postgres://… or ARGUS_DATABASE_URL); each serves every session, a session runs in one
    /// at a time, and a request for a busy session gets 409.
    Serve(commands::serve::ServeArgs),
    /// List model presets, or convert a GGUF mistral.rs cannot load into a directory it can.
    #[cfg(feature = "local")]
    Models(commands::models::ModelsArgs),
    /// Write tiny random-weight models for running the whole pipeline offline.
    #[cfg(feature = "local")]
    DemoModel(commands::demo_model::DemoModelArgs),
}

fn main() -> ExitCode {
    exit::install_panic_hook();
    exit::catch_panics(|| run(Cli::parse()))
}

/// Runs the parsed command and turns its error into one line on stderr and an exit code.
fn run(cli: Cli) -> ExitCode {
    // Kept to the end of the command (of its panic too), when it sends the spans still queued.
    let _exporter = match init_tracing(&cli) {
        Ok(exporter) => exporter,
        Err(error) => {
            eprintln!("argus: {}", exit::one_line(&error));
            return exit::code_for(&error);
        }
    };
    telemetry::set_trace_contents(cli.trace_contents);
    let result = match cli.command {
        Command::Run(args) => block_on(commands::run::run(&args)),
        Command::Chat(args) => block_on(commands::chat::run(&args)),
        #[cfg(feature = "local")]
        Command::Models(args) => commands::models::run(&args),
        #[cfg(feature = "local")]
        Command::DemoModel(args) => commands::demo_model::run(&args),
        Command::Parse(args) => commands::parse::run(&args),
        Command::Eval(args) => block_on(commands::eval::run(&args)),
        Command::Sessions(args) => block_on(commands::sessions::run(&args)),
        Command::Mcp(args) => block_on(commands::mcp::run(&args)),
        Command::Serve(args) => block_on(commands::serve::run(&args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("argus: {}", exit::one_line(&error));
            exit::code_for(&error)
        }
    }
}

/// Runs a command's future on a multi-threaded Tokio runtime.
fn block_on<T>(future: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

/// Logs to stderr as `RUST_LOG` says (default: warnings and errors only), and exports the spans
/// over OTLP when `--otlp` or the environment names a collector (see [`telemetry`]).
fn init_tracing(cli: &Cli) -> anyhow::Result<Option<telemetry::Exporter>> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let Some(collector) = telemetry::Collector::chosen(cli.otlp.as_deref()) else {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
        return Ok(None);
    };
    otlp_tracing(filter, &collector)
}

#[cfg(feature = "otlp")]
fn otlp_tracing(
    filter: tracing_subscriber::EnvFilter,
    collector: &telemetry::Collector,
) -> anyhow::Result<Option<telemetry::Exporter>> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;

    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter);
    let registry = tracing_subscriber::registry().with(logs);
    match telemetry::layer(collector) {
        Ok((spans, exporter)) => {
            let _ = registry.with(spans).try_init();
            Ok(Some(exporter))
        }
        // A collector named by the environment that cannot be used is a warning, not an error.
        Err(error) if *collector == telemetry::Collector::Environment => {
            let _ = registry.try_init();
            tracing::warn!("{}", exit::one_line(&error));
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

#[cfg(not(feature = "otlp"))]
fn otlp_tracing(
    filter: tracing_subscriber::EnvFilter,
    collector: &telemetry::Collector,
) -> anyhow::Result<Option<telemetry::Exporter>> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    match collector {
        telemetry::Collector::Flag(_) => Err(exit::UserError::usage(
            "this argus was built without OTLP export (the `otlp` feature): --otlp cannot be used",
        )
        .into()),
        telemetry::Collector::Environment => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every row parses: a flag whose definition and access disagree panics here.
    #[test]
    fn every_row_of_the_flag_table_parses() {
        for row in flag_table::ROWS {
            let args = std::iter::once("argus").chain(row.args.iter().copied());
            if let Err(error) = Cli::try_parse_from(args) {
                panic!("argus {}: {error}", row.args.join(" "));
            }
        }
    }

    #[test]
    fn every_subcommand_and_flag_is_in_the_flag_table() {
        let root = Cli::command();
        let mut missing = Vec::new();
        uncovered(&root, &root, &mut Vec::new(), &mut missing);
        assert!(
            missing.is_empty(),
            "not run by any row of examples/tests/cli_flags/table.rs: {missing:#?}"
        );
    }

    /// The subcommands and flags under `command` (at `path`) that no row runs.
    fn uncovered(
        root: &clap::Command,
        command: &clap::Command,
        path: &mut Vec<String>,
        missing: &mut Vec<String>,
    ) {
        let rows: Vec<_> = flag_table::ROWS
            .iter()
            .filter(|row| subcommand_path(root, row.args).starts_with(path))
            .collect();
        if rows.is_empty() {
            missing.push(format!("argus {}", path.join(" ")));
        }
        for arg in command.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            let flag = format!("--{long}");
            if !rows.iter().any(|row| row.args.contains(&flag.as_str())) {
                missing.push(format!("argus {} {flag}", path.join(" ")));
            }
        }
        for sub in command.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            path.push(sub.get_name().to_string());
            uncovered(root, sub, path, missing);
            path.pop();
        }
    }

    /// The subcommands a row's arguments name, outermost first.
    fn subcommand_path(root: &clap::Command, args: &[&str]) -> Vec<String> {
        let mut path = Vec::new();
        let mut current = root;
        for arg in args {
            if let Some(sub) = current.find_subcommand(arg) {
                path.push(sub.get_name().to_string());
                current = sub;
            }
        }
        path
    }
}
