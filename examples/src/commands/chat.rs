//! `argus chat`: an interactive assistant with streaming output and a persistent session.
//!
//! Lines typed are questions; `/image PATH-OR-URL` attaches an image to the next question,
//! `/help` lists the commands, `/quit` (or end of input) leaves. Ctrl-C cancels the current
//! turn; the session keeps every completed step.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use argus_core::{
    async_trait, AgentError, AgentEvent, Approval, ApprovalHook, Message, ToolCall, ToolSpec,
};
use futures::StreamExt as _;
use tokio::sync::{mpsc, Mutex};

use crate::assistant::{load_image, AgentArgs};
use crate::exit::{agent_error, one_line};
use crate::render::describe_event;

/// Arguments of `argus chat`.
#[derive(Debug, clap::Args)]
pub(crate) struct ChatArgs {
    #[command(flatten)]
    agent: AgentArgs,
    /// The session to continue or start (default: a new one named after the time).
    #[arg(long)]
    session: Option<String>,
}

const HELP: &str = "commands: /image PATH-OR-URL attaches an image to your next message; \
/help shows this; /quit leaves. Ctrl-C cancels the current answer.";

/// Lines of standard input, read on their own thread so the runtime never blocks on them.
type Lines = Arc<Mutex<mpsc::UnboundedReceiver<String>>>;

fn stdin_lines() -> Lines {
    let (sender, receiver) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    Arc::new(Mutex::new(receiver))
}

/// Asks on the terminal, reading the answer from the chat's own input lines.
struct AskUser {
    lines: Lines,
}

#[async_trait]
impl ApprovalHook for AskUser {
    async fn approve(&self, call: &ToolCall, _spec: &ToolSpec) -> Approval {
        eprint!("Allow {}({})? [y/N] ", call.name, call.arguments);
        let _ = std::io::stderr().flush();
        let answer = self.lines.lock().await.recv().await;
        match answer.as_deref().map(str::trim) {
            Some("y" | "Y" | "yes") => Approval::Approve,
            Some(_) => Approval::Deny {
                reason: "the user declined".into(),
            },
            None => Approval::Deny {
                reason: "no answer from the user".into(),
            },
        }
    }
}

/// Runs the conversation until `/quit` or end of input.
pub(crate) async fn run(args: &ChatArgs) -> anyhow::Result<()> {
    let session = args.session.clone().unwrap_or_else(|| {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        format!("chat-{secs}")
    });
    let lines = stdin_lines();
    let approval = AskUser {
        lines: Arc::clone(&lines),
    };
    let (agent, memory) = args.agent.build(Some(&session), approval).await?;
    eprintln!(
        "session `{session}` (continue it later with --session {session}); /help for commands"
    );

    let mut images = Vec::new();
    loop {
        eprint!("> ");
        let _ = std::io::stderr().flush();
        let line = tokio::select! {
            line = async { lines.lock().await.recv().await } => line,
            _ = tokio::signal::ctrl_c() => None,
        };
        let Some(line) = line else { break };
        let line = line.trim();
        match line
            .split_once(' ')
            .map_or((line, ""), |(c, rest)| (c, rest.trim()))
        {
            ("", _) => continue,
            ("/quit" | "/exit", _) => break,
            ("/help", _) => {
                eprintln!("{HELP}");
                continue;
            }
            ("/image", source) if !source.is_empty() => {
                match load_image(source).await {
                    Ok(image) => {
                        eprintln!("attached {source} ({} bytes)", image.byte_len);
                        images.push(image);
                    }
                    Err(error) => eprintln!("error: {}", one_line(&error)),
                }
                continue;
            }
            (command, _) if command.starts_with('/') => {
                eprintln!("unknown command {command}; {HELP}");
                continue;
            }
            _ => {}
        }
        let input = Message::user_with_images(line, std::mem::take(&mut images));
        answer(&agent, input).await;
    }
    if let Some(memory) = memory {
        memory.close().await;
    }
    Ok(())
}

/// Streams one answer to stdout; tool activity goes to stderr.
async fn answer(agent: &argus_core::Agent, input: Message) {
    let mut events = agent.run_stream(input);
    let mut stdout = std::io::stdout();
    let mut open_line = false;
    loop {
        let event = tokio::select! {
            event = events.next() => event,
            _ = tokio::signal::ctrl_c() => {
                events.cancel();
                continue;
            }
        };
        let Some(event) = event else { break };
        match event {
            AgentEvent::TextDelta { text, .. } => {
                let _ = write!(stdout, "{text}");
                let _ = stdout.flush();
                open_line = true;
            }
            AgentEvent::Final { .. } => break,
            AgentEvent::Error { error } => {
                if open_line {
                    let _ = writeln!(stdout);
                    open_line = false;
                }
                match error {
                    AgentError::Cancelled { .. } => eprintln!("[cancelled]"),
                    other => eprintln!("error: {}", one_line(&agent_error(other))),
                }
                break;
            }
            other => {
                if let Some(line) = describe_event(&other) {
                    if open_line {
                        let _ = writeln!(stdout);
                        open_line = false;
                    }
                    eprintln!("{line}");
                }
            }
        }
    }
    if open_line {
        let _ = writeln!(stdout);
    }
}
