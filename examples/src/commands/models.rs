//! `argus models`: the presets, and converting GGUF files mistral.rs cannot read.

use std::path::PathBuf;

use crate::exit::UserError;
use crate::local_model::{conversion_bar, show_progress, PRESETS};

/// Arguments of `argus models`.
#[derive(Debug, clap::Args)]
pub(crate) struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ModelsCommand {
    /// List the model presets `--model` accepts.
    List,
    /// Convert a GGUF of an architecture mistral.rs cannot load from GGUF (e.g. gemma3) into a
    /// safetensors directory it loads.
    Convert {
        /// The GGUF file.
        input: PathBuf,
        /// The output directory.
        output: PathBuf,
    },
}

/// Runs a `models` subcommand.
pub(crate) fn run(args: &ModelsArgs) -> anyhow::Result<()> {
    match &args.command {
        ModelsCommand::List => {
            for (index, preset) in PRESETS.iter().enumerate() {
                let default = if index == 0 { " (default)" } else { "" };
                println!(
                    "{}{default}\t{}\t{}",
                    preset.name, preset.hub_id, preset.summary
                );
            }
        }
        ModelsCommand::Convert { input, output } => {
            if !input.is_file() {
                return Err(
                    UserError::not_found(format!("{} does not exist", input.display())).into(),
                );
            }
            let bar = conversion_bar(input);
            let conversion = argus_convert::convert(
                input,
                output,
                &argus_convert::ConvertOptions::default(),
                &mut |progress| show_progress(&bar, &progress),
            );
            bar.finish_and_clear();
            let conversion = conversion.map_err(|e| UserError::invalid(e.to_string()))?;
            println!("{}", conversion.dir.display());
        }
    }
    Ok(())
}
