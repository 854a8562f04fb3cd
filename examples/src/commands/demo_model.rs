//! `argus demo-model DIR`: tiny random-weight checkpoints for running Argus offline.

use std::path::PathBuf;

use anyhow::Context as _;
use argus_vision::testkit::{write_gguf, write_mllama, GgufSpec, MllamaSpec};

/// The demo vision model's context window in tokens.
pub(crate) const DEMO_WINDOW: usize = 16384;

/// Arguments of `argus demo-model`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoModelArgs {
    /// Directory to write into (created if missing).
    dir: PathBuf,
}

/// Writes a Llama 3.2 Vision (mllama) directory and a llama GGUF under `dir`.
///
/// Their weights are random, so their answers are noise; what they prove is that the whole
/// pipeline runs: loading, chat templates, image preprocessing, grammar-constrained tool calls,
/// tool dispatch, memory and streaming.
pub(crate) fn run(args: &DemoModelArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    // A window of 16k tokens: the demo tokenizer is close to bytes, so the system prompt and
    // the tool definitions alone take ~3.3k tokens, and the printed example needs room for
    // its tool round and answer (the tests' default 4k is too tight for several steps).
    let spec = MllamaSpec {
        max_position_embeddings: DEMO_WINDOW,
        ..MllamaSpec::default()
    };
    let vision = write_mllama(&args.dir.join("mllama"), &spec)
        .context("cannot write the demo vision model")?;
    let text = write_gguf(&args.dir.join("tiny-llama.gguf"), &GgufSpec::default())
        .context("cannot write the demo GGUF model")?;
    println!(
        "vision model (Llama 3.2 Vision layout): {}",
        vision.path.display()
    );
    println!("text model (llama GGUF): {}", text.path.display());
    println!(
        "These models have random weights: their answers are noise. They exercise the whole \
         pipeline offline, e.g.\n  argus run --model {} --image photo.jpg --tool-choice required \"What is 2+2?\"",
        vision.path.display()
    );
    Ok(())
}
