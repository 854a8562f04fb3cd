//! `argus parse`: a debugging aid that shows how Argus reads a raw model output.

use std::io::{Read, Write};

use anyhow::Context as _;
use argus_core::{parse_tool_calls, ParsedCall, ToolCallFormat};
use serde::Serialize;

use crate::exit::UserError;

/// Arguments of `argus parse`.
#[derive(Debug, clap::Args)]
pub(crate) struct ParseArgs {
    /// Tool-call format: auto, llama3_json, python_tag, pythonic, function_tag or hermes.
    #[arg(long, default_value = "auto")]
    format: ToolCallFormat,
}

/// The printed result: exactly `{"calls": [{"name", "arguments"}], "content"}`.
#[derive(Serialize)]
struct Printed<'a> {
    calls: &'a [ParsedCall],
    content: &'a str,
}

/// Reads stdin, parses it and prints one JSON object on stdout.
pub(crate) fn run(args: &ParseArgs) -> anyhow::Result<()> {
    let mut raw = Vec::new();
    std::io::stdin()
        .read_to_end(&mut raw)
        .context("cannot read stdin")?;
    let text = String::from_utf8(raw)
        .map_err(|e| UserError::invalid(format!("stdin is not valid UTF-8: {e}")))?;
    let parsed = parse_tool_calls(&text, args.format);
    let printed = Printed {
        calls: &parsed.calls,
        content: &parsed.content,
    };
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(&mut stdout, &printed)?;
    writeln!(stdout)?;
    Ok(())
}
