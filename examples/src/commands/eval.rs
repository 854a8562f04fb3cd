//! `argus eval`: the tool-calling eval on any model.

use crate::eval::{run_suite, EvalOptions, Report, Suite};
use crate::model_args::ModelArgs;

/// Arguments of `argus eval`.
#[derive(Debug, clap::Args)]
pub(crate) struct EvalArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    options: EvalOptions,
}

/// Runs the suite in each mode and prints the table (and per-case JSON lines with `--json`).
pub(crate) async fn run(args: &EvalArgs) -> anyhow::Result<()> {
    let suite = Suite::load(args.options.suite.as_deref())?;
    let model = args.model.load(&argus_core::ImageCache::new()).await?;
    let mut reports = Vec::new();
    let mut all_scores = Vec::new();
    for &mode in &args.options.modes {
        let scores = run_suite(model.as_ref(), &suite, mode, args.options.max_tokens).await;
        reports.push(Report::new(mode, &scores));
        all_scores.extend(scores);
    }
    print!("{}", Report::table(&reports));
    if args.options.json {
        for score in &all_scores {
            println!("{}", serde_json::to_string(score)?);
        }
    }
    Ok(())
}
