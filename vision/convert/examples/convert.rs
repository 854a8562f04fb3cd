//! Converts a GGUF into a Hugging Face-style directory and reports time and size.
//!
//! `cargo run --release -p argus-convert --example convert -- IN.gguf OUT_DIR [--f32]`
//!
//! Measure peak memory with `/usr/bin/time -v` (Maximum resident set size).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use argus_convert::{convert, ConvertOptions, OutputDType, Progress, Stage};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let f32 = args.iter().any(|a| a == "--f32");
    let paths: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [input, output] = paths.as_slice() else {
        anyhow::bail!("usage: convert IN.gguf OUT_DIR [--f32]");
    };
    let (input, output) = (PathBuf::from(input), PathBuf::from(output));
    println!(
        "architecture: {}",
        argus_convert::read_architecture(&input)?
    );

    let options = ConvertOptions::default().with_dtype(if f32 {
        OutputDType::F32
    } else {
        OutputDType::F16
    });
    let started = Instant::now();
    let mut last_percent = u64::MAX;
    let mut show = |p: Progress| {
        if p.stage == Stage::Weights && p.bytes_total > 0 {
            let percent = p.bytes_done * 100 / p.bytes_total;
            if percent != last_percent {
                last_percent = percent;
                print!(
                    "\rweights {percent:3}%  tensors {}/{}",
                    p.tensors_done, p.tensors_total
                );
                let _ = std::io::stdout().flush();
            }
        }
    };
    let done = convert(&input, &output, &options, &mut show)?;
    println!();
    println!(
        "{} tensors, {:.1} MB of weights, {} tokens, {} merges -> {} in {:.2?}",
        done.tensors,
        done.weights_bytes as f64 / 1e6,
        done.vocab_size,
        done.merges,
        done.dir.display(),
        started.elapsed()
    );
    Ok(())
}
