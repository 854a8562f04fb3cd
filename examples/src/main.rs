//! `argus`: the Argus command-line assistant.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod commands;
mod eval;
mod exit;
mod model_args;

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
    /// Parse a raw model output (stdin) into tool calls and text, printed as one JSON object.
    Parse(commands::parse::ParseArgs),
    /// Measure a model's tool calling: selection, arguments, valid calls and time per case.
    Eval(commands::eval::EvalArgs),
    /// List, show, search, export, import or delete stored sessions.
    Sessions(commands::sessions::SessionsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
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
