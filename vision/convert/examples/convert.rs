//! Converts a GGUF into a Hugging Face-style directory and reports time per stage and size.
//!
//! ```text
//! cargo run --release -p argus-convert --example convert -- IN.gguf OUT_DIR [--f32] [--cache]
//! ```
//!
//! With `--cache`, `OUT_DIR` is a cache root: the model goes to `OUT_DIR/<sha256>/`, and a second run only hashes.
//! Measure peak memory with `/usr/bin/time -v` (Maximum resident set size).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use argus_convert::{convert, convert_cached_with, ConvertOptions, OutputDType, Progress, Stage};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let paths: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [input, output] = paths.as_slice() else {
        anyhow::bail!("usage: convert IN.gguf OUT_DIR [--f32] [--cache]");
    };
    let (input, output) = (PathBuf::from(input), PathBuf::from(output));
    println!(
        "architecture: {}",
        argus_convert::read_architecture(&input)?
    );

    let dtype = if flag("--f32") {
        OutputDType::F32
    } else {
        OutputDType::F16
    };
    let options = ConvertOptions::default().with_dtype(dtype);
    let started = Instant::now();
    let mut stages: Vec<(Stage, Instant)> = Vec::new();
    let mut last_percent = u64::MAX;
    let mut show = |p: Progress| {
        if stages.last().map(|s| s.0) != Some(p.stage) {
            stages.push((p.stage, Instant::now()));
            last_percent = u64::MAX;
        }
        if let Some(percent) = (p.bytes_done * 100).checked_div(p.bytes_total) {
            if percent != last_percent {
                last_percent = percent;
                print!(
                    "\r{:<9} {percent:3}%  tensors {}/{}",
                    stage_name(p.stage),
                    p.tensors_done,
                    p.tensors_total
                );
                let _ = std::io::stdout().flush();
            }
        }
    };
    let dir = if flag("--cache") {
        convert_cached_with(&input, &output, &options, &mut show)?
    } else {
        let done = convert(&input, &output, &options, &mut show)?;
        println!(
            "\n{} tensors, {:.1} MB of weights, {} tokens, {} merges",
            done.tensors,
            done.weights_bytes as f64 / 1e6,
            done.vocab_size,
            done.merges
        );
        done.dir
    };
    println!();
    let mut marks = vec![("start", started)];
    marks.extend(stages.iter().map(|(s, t)| (stage_name(*s), *t)));
    for w in marks.windows(2) {
        println!("  {:<9} {:.2?}", w[0].0, w[1].1 - w[0].1);
    }
    println!("-> {} in {:.2?}", dir.display(), started.elapsed());
    Ok(())
}

fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Hashing => "hashing",
        Stage::Weights => "weights",
        Stage::Finishing => "finishing",
        Stage::Done => "done",
        _ => "other",
    }
}
