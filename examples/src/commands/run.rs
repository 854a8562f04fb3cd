//! `argus run`: one question (with images), one answer.

use std::io::Write as _;

use argus_core::{AgentEvent, Message};
use futures::StreamExt as _;

use crate::assistant::{load_image, AgentArgs};
use crate::exit::{agent_error, Interrupted};
use crate::render::describe_event;

/// Arguments of `argus run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    agent: AgentArgs,
    /// An image (path or URL) for the model to see; repeat for several.
    #[arg(long = "image")]
    images: Vec<String>,
    /// Keep the exchange in this session (in the --db memory), continuing it if it exists.
    #[arg(long)]
    session: Option<String>,
    /// Print the whole run (answer, steps, tool calls, usage) as JSON instead of the answer.
    #[arg(long)]
    json: bool,
    /// The question.
    question: String,
}

/// Runs the question to an answer; tool activity goes to stderr, the answer to stdout.
pub(crate) async fn run(args: &RunArgs) -> anyhow::Result<()> {
    let mut images = Vec::with_capacity(args.images.len());
    for source in &args.images {
        images.push(load_image(source).await?);
    }
    let approval = argus_tools::StdinApproval::new();
    let (agent, memory) = args.agent.build(args.session.as_deref(), approval).await?;
    let input = Message::user_with_images(args.question.clone(), images);

    let mut events = agent.run_stream(input);
    let result = loop {
        let event = tokio::select! {
            event = events.next() => event,
            _ = tokio::signal::ctrl_c() => {
                events.cancel();
                continue;
            }
        };
        let Some(event) = event else {
            anyhow::bail!("the run ended without a result");
        };
        match event {
            AgentEvent::Final { output } => break Ok(output),
            AgentEvent::Error { error } => break Err(error),
            other => {
                if let Some(line) = describe_event(&other) {
                    eprintln!("{line}");
                }
            }
        }
    };
    if let Some(memory) = memory {
        memory.close().await;
    }
    let output = match result {
        Ok(output) => output,
        Err(argus_core::AgentError::Cancelled { .. }) => return Err(Interrupted.into()),
        Err(error) => return Err(agent_error(error)),
    };
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &output)?;
        writeln!(stdout)?;
    } else {
        writeln!(stdout, "{}", output.answer)?;
    }
    Ok(())
}
