//! An approval hook that asks a person: prints the call, reads `y` or `n`.

use std::io::{self, BufRead, BufReader, Stdin, Stdout, Write};
use std::sync::{Arc, Mutex, PoisonError};

use argus_core::{async_trait, Approval, ApprovalHook, ToolCall, ToolSpec};

/// Longest argument text shown in a prompt, in characters.
const MAX_SHOWN_CHARS: usize = 4_000;

/// Asks on a terminal (or any reader and writer) before every side-effecting tool call.
///
/// It prints the tool, its description and the arguments, then reads one line: `y` or `yes`
/// approves; anything else denies, and text other than `n`/`no` is passed to the model as the
/// reason. End of input denies. Control characters in what the model wrote are escaped so
/// they cannot rewrite the terminal.
///
/// ```
/// use std::io::Cursor;
/// use argus_core::{Approval, ApprovalHook, ToolCall, ToolSpec};
/// use argus_tools::StdinApproval;
/// use serde_json::json;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let hook = StdinApproval::with_io(Cursor::new("use a different file name\n"), Vec::new());
/// let call = ToolCall::new("write_file", json!({"path": "notes.txt", "content": "hi"}));
/// let spec = ToolSpec { name: "write_file".into(), description: "Writes.".into(), parameters: json!({}) };
/// let answer = hook.approve(&call, &spec).await;
/// assert_eq!(answer, Approval::Deny { reason: "the user declined: use a different file name".into() });
/// # }
/// ```
/// With a real terminal: `Agent::builder().approval(StdinApproval::new())`.
pub struct StdinApproval<R = BufReader<Stdin>, W = Stdout> {
    io: Arc<Mutex<(R, W)>>,
}

impl<R, W> std::fmt::Debug for StdinApproval<R, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdinApproval").finish_non_exhaustive()
    }
}

impl StdinApproval {
    /// Asks on standard input and output.
    pub fn new() -> Self {
        StdinApproval::with_io(BufReader::new(io::stdin()), io::stdout())
    }
}

impl Default for StdinApproval {
    fn default() -> Self {
        StdinApproval::new()
    }
}

impl<R, W> StdinApproval<R, W>
where
    R: BufRead + Send + 'static,
    W: Write + Send + 'static,
{
    /// Asks by writing to `writer` and reading answers from `reader`.
    pub fn with_io(reader: R, writer: W) -> Self {
        StdinApproval {
            io: Arc::new(Mutex::new((reader, writer))),
        }
    }

    /// The reader and writer back (e.g. to inspect what was printed in a test).
    pub fn into_inner(self) -> Option<(R, W)> {
        Arc::into_inner(self.io).map(|io| io.into_inner().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait]
impl<R, W> ApprovalHook for StdinApproval<R, W>
where
    R: BufRead + Send + 'static,
    W: Write + Send + 'static,
{
    async fn approve(&self, call: &ToolCall, spec: &ToolSpec) -> Approval {
        let prompt = prompt(call, spec);
        let io = Arc::clone(&self.io);
        // Terminal reads block: keep them off the async threads.
        let answer = tokio::task::spawn_blocking(move || {
            let mut guard = io.lock().unwrap_or_else(PoisonError::into_inner);
            let (reader, writer) = &mut *guard;
            writer.write_all(prompt.as_bytes())?;
            writer.flush()?;
            let mut line = String::new();
            let read = reader.read_line(&mut line)?;
            Ok::<_, io::Error>((read > 0).then_some(line))
        })
        .await;
        match answer {
            Ok(Ok(Some(line))) => decide(&line),
            Ok(Ok(None)) => deny("no answer (end of input)"),
            Ok(Err(error)) => deny(&format!("the prompt failed: {error}")),
            Err(error) => deny(&format!("the prompt failed: {error}")),
        }
    }
}

fn prompt(call: &ToolCall, spec: &ToolSpec) -> String {
    let arguments = serde_json::to_string_pretty(&call.arguments)
        .unwrap_or_else(|_| call.arguments.to_string());
    let mut shown: String = arguments.chars().take(MAX_SHOWN_CHARS).collect();
    if shown.len() < arguments.len() {
        shown.push_str(&format!(
            "\n… ({} more characters)",
            arguments.chars().count() - MAX_SHOWN_CHARS
        ));
    }
    format!(
        "\nThe agent wants to run `{}` ({})\nwith arguments:\n{}\nAllow? [y/N] ",
        sanitize(&call.name),
        sanitize(&spec.description),
        sanitize(&shown),
    )
}

/// Escapes control characters other than newlines and tabs.
fn sanitize(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                c.escape_unicode().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

fn decide(line: &str) -> Approval {
    let answer = line.trim();
    match answer.to_ascii_lowercase().as_str() {
        "y" | "yes" => Approval::Approve,
        "" | "n" | "no" => deny(""),
        _ => deny(&sanitize(answer)),
    }
}

fn deny(detail: &str) -> Approval {
    let reason = if detail.is_empty() {
        "the user declined".to_string()
    } else {
        format!("the user declined: {detail}")
    };
    Approval::Deny { reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Cursor;

    fn spec() -> ToolSpec {
        ToolSpec {
            name: "write_file".into(),
            description: "Writes a file.".into(),
            parameters: json!({}),
        }
    }

    async fn ask(input: &str, arguments: serde_json::Value) -> (Approval, String) {
        let hook = StdinApproval::with_io(Cursor::new(input.to_string()), Vec::new());
        let answer = hook
            .approve(&ToolCall::new("write_file", arguments), &spec())
            .await;
        let (_, printed) = hook.into_inner().unwrap();
        (answer, String::from_utf8(printed).unwrap())
    }

    #[tokio::test]
    async fn yes_approves_and_shows_the_call() {
        let (answer, printed) = ask("Y\n", json!({"path": "a.txt"})).await;
        assert_eq!(answer, Approval::Approve);
        assert_eq!(
            printed,
            "\nThe agent wants to run `write_file` (Writes a file.)\nwith arguments:\n{\n  \
             \"path\": \"a.txt\"\n}\nAllow? [y/N] "
        );
        assert_eq!(ask("yes\n", json!({})).await.0, Approval::Approve);
    }

    #[tokio::test]
    async fn anything_else_denies() {
        let declined = Approval::Deny {
            reason: "the user declined".into(),
        };
        assert_eq!(ask("n\n", json!({})).await.0, declined);
        assert_eq!(ask("\n", json!({})).await.0, declined);
        assert_eq!(
            ask("", json!({})).await.0,
            Approval::Deny {
                reason: "the user declined: no answer (end of input)".into()
            }
        );
        assert_eq!(
            ask("not that file\n", json!({})).await.0,
            Approval::Deny {
                reason: "the user declined: not that file".into()
            }
        );
    }

    #[tokio::test]
    async fn model_text_cannot_drive_the_terminal() {
        let (_, printed) = ask("n\n", json!({"content": "\u{1b}[2J\u{9b}31m"})).await;
        assert!(
            !printed.chars().any(|c| c == '\u{1b}' || c == '\u{9b}'),
            "{printed:?}"
        );
        let (_, printed) = ask("n\n", json!({"content": "x".repeat(10_000)})).await;
        assert!(printed.contains("more characters)"));
        assert!(printed.len() < 5_000);
    }
}
