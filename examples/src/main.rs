//! `argus`: the Argus command-line assistant.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod assistant;
mod commands;
mod eval;
mod exit;
mod model_args;
mod render;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Argus: a local multimodal agent with typed tools and durable memory.
#[derive(Debug, Parser)]
#[command(name = "argus", version, about, long_about = None)]
struct Cli {
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
    /// List model presets, or convert a GGUF mistral.rs cannot load into a directory it can.
    Models(commands::models::ModelsArgs),
    /// Write tiny random-weight models for running the whole pipeline offline.
    DemoModel(commands::demo_model::DemoModelArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Command::Run(args) => block_on(commands::run::run(&args)),
        Command::Chat(args) => block_on(commands::chat::run(&args)),
        Command::Models(args) => commands::models::run(&args),
        Command::DemoModel(args) => commands::demo_model::run(&args),
        Command::Parse(args) => commands::parse::run(&args),
        Command::Eval(args) => block_on(commands::eval::run(&args)),
        Command::Sessions(args) => block_on(commands::sessions::run(&args)),
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

/// Logs to stderr as `RUST_LOG` says (default: warnings and errors only).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
