//! `argus eval`: tool-calling quality of any model on a suite of prompts.
//!
//! Each case offers some tools and names the call a good model makes (or none). A model is
//! scored on tool selection (the right tool, or rightly none), argument exact-match (the right
//! tool with one of the acceptable argument objects; numbers compare by value), the valid-call
//! rate (calls that name an offered tool with schema-valid arguments) and time per case. Every
//! suite runs twice: free (tool choice auto, output parsed) and grammar-constrained (tool
//! choice required), where no-tool cases cannot pass by construction.
//!
//! `--vision` runs the [vision suite](vision) instead: real agents on drawn pictures, under
//! each vision strategy.

mod score;
mod suite;
pub(crate) mod vision;

use std::path::PathBuf;
use std::time::Instant;

use argus_core::{ChatModel, ChatRequest, Message, ToolChoice, ToolSpec, VisionStrategy};
use argus_mcp::McpServerConfig;
use serde::Serialize;

pub(crate) use score::{score_case, CaseScore, Report};
pub(crate) use suite::Suite;

/// How tool calls are produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Mode {
    /// Tool choice auto: the model decides and its output is parsed.
    Free,
    /// Tool choice required: decoding is constrained to a call of an offered tool.
    Constrained,
}

/// Arguments of `argus eval` that do not select the model.
#[derive(Debug, clap::Args)]
pub(crate) struct EvalOptions {
    /// Suite file (JSON); the built-in suite when omitted.
    #[arg(long)]
    pub(crate) suite: Option<PathBuf>,
    /// Modes to run.
    #[arg(long, value_enum, num_args = 1.., default_values_t = [Mode::Free, Mode::Constrained])]
    pub(crate) modes: Vec<Mode>,
    /// Run the vision suite instead: agents with the calculator answer questions about drawn
    /// pictures, once per vision strategy, side by side.
    #[arg(long, conflicts_with_all = ["suite", "modes"])]
    pub(crate) vision: bool,
    /// With --vision, run only this strategy (`direct` or `perceive-then-act`) instead of both.
    #[arg(long, value_name = "STRATEGY", requires = "vision")]
    pub(crate) vision_strategy: Option<VisionStrategy>,
    /// Cap on generated tokens per case.
    #[arg(long, default_value_t = 96)]
    pub(crate) max_tokens: u32,
    /// Print every case's result as JSON lines after the table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Also offer this MCP server's tools in every case (`NAME='COMMAND ARGS…'` or
    /// `NAME=http://…`; repeatable): does the model still pick the suite's tool among them?
    #[arg(long = "mcp", value_name = "NAME=SERVER")]
    pub(crate) mcp: Vec<McpServerConfig>,
}

/// Runs every case of `suite` in `mode` against `model`, offering `extra_tools` beside each
/// case's tools (those whose name a case's tool has are left out of that case).
pub(crate) async fn run_suite(
    model: &dyn ChatModel,
    suite: &Suite,
    extra_tools: &[ToolSpec],
    mode: Mode,
    max_tokens: u32,
) -> Vec<CaseScore> {
    let mut scores = Vec::with_capacity(suite.cases.len());
    for case in &suite.cases {
        let mut tools = suite.specs(case);
        let extra: Vec<ToolSpec> = extra_tools
            .iter()
            .filter(|spec| tools.iter().all(|own| own.name != spec.name))
            .cloned()
            .collect();
        tools.extend(extra);
        let request = ChatRequest::new(vec![
            Message::system(suite.system_prompt.clone()),
            Message::user(case.prompt.clone()),
        ])
        .with_tools(tools)
        .with_tool_choice(match mode {
            Mode::Free => ToolChoice::Auto,
            Mode::Constrained => ToolChoice::Required,
        })
        .with_max_tokens(max_tokens);
        let started = Instant::now();
        let response = model.chat(request.clone()).await;
        let elapsed = started.elapsed();
        scores.push(score_case(case, &request.tools, mode, response, elapsed));
    }
    scores
}
