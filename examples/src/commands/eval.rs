//! `argus eval`: the tool-calling eval on any model, or the vision suite (`--vision`).

use argus_core::{ImageCache, ToolRegistry};

use crate::commands::mcp;
use crate::eval::vision::{self, VisionReport};
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
    if args.options.vision {
        return run_vision(args).await;
    }
    let suite = Suite::load(args.options.suite.as_deref())?;
    // The servers' tools, offered beside each case's own.
    let mut extra_tools = ToolRegistry::new();
    if let Some(toolset) = mcp::connect_servers(&args.options.mcp).await? {
        mcp::add_tools(&toolset, &mut extra_tools);
    }
    let model = args.model.load(&argus_core::ImageCache::new()).await?;
    let mut reports = Vec::new();
    let mut all_scores = Vec::new();
    for &mode in &args.options.modes {
        let scores = run_suite(
            model.as_ref(),
            &suite,
            extra_tools.specs(),
            mode,
            args.options.max_tokens,
        )
        .await;
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

/// Runs the vision suite under each strategy and prints the tables (and per-case JSON lines
/// with `--json`).
async fn run_vision(args: &EvalArgs) -> anyhow::Result<()> {
    let mcp = mcp::connect_servers(&args.options.mcp).await?;
    let images = ImageCache::new();
    let model = args.model.load(&images).await?;
    println!(
        "vision suite: {} cases on {} (its default strategy: {})\n",
        vision::CASES.len(),
        model.name(),
        model.vision_strategy()
    );
    let strategies = vision::strategies(args.options.vision_strategy);
    let mut scores = Vec::new();
    for &strategy in &strategies {
        scores.extend(
            vision::run_vision_suite(
                &model,
                &images,
                mcp.as_ref(),
                vision::CASES,
                strategy,
                args.options.max_tokens,
            )
            .await?,
        );
    }
    let reports: Vec<VisionReport> = strategies
        .iter()
        .map(|&strategy| VisionReport::new(strategy, &scores))
        .collect();
    print!("{}", VisionReport::tables(&reports, &scores));
    if args.options.json {
        for score in &scores {
            println!("{}", serde_json::to_string(score)?);
        }
    }
    Ok(())
}
