//! `argus`: the Argus command-line assistant.

mod commands;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Parse(args) => commands::parse::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("argus: {error:#}");
            ExitCode::FAILURE
        }
    }
}
