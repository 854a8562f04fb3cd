//! Exit codes scripts can rely on, and the errors that choose them.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the command failed (model, memory or tool error) |
//! | 2 | bad command line (unknown flag or value) |
//! | 3 | something named does not exist (model path, session, file) |
//! | 4 | invalid input (bad image, malformed file, invalid data, a database that cannot be used) |
//! | 70 | internal error (a bug in Argus: a panic) |
//! | 75 | try again later: another run holds the session (`EX_TEMPFAIL`) |
//! | 130 | interrupted (Ctrl-C) |

use std::fmt;
use std::panic::{self, UnwindSafe};
use std::process::ExitCode;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use argus_core::{panic_message, AgentError, MemoryError, SessionId};

/// An error the user can fix, with the exit code that says which kind.
#[derive(Debug)]
pub(crate) struct UserError {
    code: u8,
    message: String,
}

impl UserError {
    /// A command line the build cannot serve, found after parsing (exit code 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        UserError {
            code: 2,
            message: message.into(),
        }
    }

    /// Something named does not exist (exit code 3).
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        UserError {
            code: 3,
            message: message.into(),
        }
    }

    /// Invalid input (exit code 4).
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        UserError {
            code: 4,
            message: message.into(),
        }
    }

    /// Another run holds the session (exit code 75).
    pub(crate) fn busy(session: &SessionId, waited: Duration) -> Self {
        let waited = if waited.is_zero() {
            "; try again when it ends, or wait for it with --session-wait SECS".to_string()
        } else {
            format!(" (waited {waited:?})")
        };
        UserError {
            code: SESSION_BUSY,
            message: format!("session `{session}` is busy: another run holds it{waited}"),
        }
    }
}

/// Exit code for a session another run holds (`EX_TEMPFAIL`: try again later).
const SESSION_BUSY: u8 = 75;

/// An agent's error as the command reports it: a busy session is one line saying so (exit
/// code 75); anything else as it is.
pub(crate) fn agent_error(error: AgentError) -> anyhow::Error {
    match error {
        AgentError::Memory {
            source: MemoryError::SessionBusy { session, waited },
            ..
        } => UserError::busy(&session, waited).into(),
        other => other.into(),
    }
}

/// Shorthand for [`UserError::not_found`].
pub(crate) fn not_found(message: impl Into<String>) -> UserError {
    UserError::not_found(message)
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// The exit code for a failed command.
pub(crate) fn code_for(error: &anyhow::Error) -> ExitCode {
    if error.downcast_ref::<Interrupted>().is_some() {
        return ExitCode::from(130);
    }
    if let Some(user) = error.downcast_ref::<UserError>() {
        return ExitCode::from(user.code);
    }
    let busy = error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<MemoryError>(),
            Some(MemoryError::SessionBusy { .. })
        )
    });
    if busy {
        return ExitCode::from(SESSION_BUSY);
    }
    // Input the memory's rules refused (an import of a newer format, an image whose hash does
    // not match), wherever it sits in the chain: invalid input, not a failure.
    // So is a prompt longer than the model's context window.
    let refused = error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<argus_core::MemoryError>(),
            Some(argus_core::MemoryError::InvalidInput(_))
        ) || matches!(
            cause.downcast_ref::<argus_core::ModelError>(),
            Some(argus_core::ModelError::ContextOverflow { .. })
        )
    });
    if refused {
        ExitCode::from(4)
    } else {
        ExitCode::FAILURE
    }
}

/// The one-line message for a failed command: the error and its causes, joined by `: `.
///
/// A cause whose text the message already ends with is left out, so an error that quotes its
/// source in its own message does not print it twice.
pub(crate) fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}

/// Exit code for an internal error (`EX_SOFTWARE`): a panic, which is a bug in Argus.
const INTERNAL_ERROR: u8 = 70;

/// The message and location of the last panic, kept by the hook for [`catch_panics`].
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Replaces the panic message and backtrace on stderr by a record [`catch_panics`] prints as
/// one line; under `RUST_BACKTRACE` the standard report (with the backtrace) is printed too.
pub(crate) fn install_panic_hook() {
    let standard = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let location = info
            .location()
            .map(|at| format!(" (at {}:{})", at.file(), at.line()))
            .unwrap_or_default();
        let text = format!("{}{location}", panic_message(info.payload()).trim_end());
        *LAST_PANIC.lock().unwrap_or_else(PoisonError::into_inner) = Some(text);
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|value| value != "0") {
            standard(info);
        }
    }));
}

/// Runs `command`; a panic that reaches here ends as `argus: internal error: …` on one line
/// and exit code 70 instead of a backtrace and exit code 101.
pub(crate) fn catch_panics(command: impl FnOnce() -> ExitCode + UnwindSafe) -> ExitCode {
    match panic::catch_unwind(command) {
        Ok(code) => code,
        Err(payload) => {
            let recorded = LAST_PANIC
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            let text = recorded.unwrap_or_else(|| panic_message(payload.as_ref()));
            eprintln!("argus: {}", internal_error_line(&text));
            ExitCode::from(INTERNAL_ERROR)
        }
    }
}

/// The line printed for a panic with this message.
fn internal_error_line(message: &str) -> String {
    format!(
        "internal error: {} (this is a bug in argus; RUST_BACKTRACE=1 shows where)",
        message.replace('\n', " ")
    )
}

/// The user interrupted the command (exit code 130).
#[derive(Debug)]
pub(crate) struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("the model failed: {0}")]
    struct Quoting(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("the model has no more responses (after 0)")]
    struct Inner;

    #[derive(Debug, thiserror::Error)]
    #[error("the run failed")]
    struct Wrapping(#[source] Inner);

    #[test]
    fn a_cause_the_message_already_quotes_is_printed_once() {
        let error = anyhow::Error::new(Quoting(Inner));
        assert_eq!(
            one_line(&error),
            "the model failed: the model has no more responses (after 0)"
        );
    }

    #[test]
    fn causes_not_quoted_are_joined() {
        let error = anyhow::Error::new(Wrapping(Inner)).context("cannot answer");
        assert_eq!(
            one_line(&error),
            "cannot answer: the run failed: the model has no more responses (after 0)"
        );
    }

    #[test]
    fn a_busy_session_is_one_readable_line() {
        let busy = |waited| UserError::busy(&SessionId::new("s"), waited).to_string();
        assert_eq!(
            busy(Duration::from_secs(2)),
            "session `s` is busy: another run holds it (waited 2s)"
        );
        assert_eq!(
            busy(Duration::from_millis(1500)),
            "session `s` is busy: another run holds it (waited 1.5s)"
        );
        assert!(busy(Duration::ZERO).contains("--session-wait SECS"));
        let error = anyhow::Error::new(MemoryError::SessionBusy {
            session: SessionId::new("s"),
            waited: Duration::ZERO,
        });
        assert_eq!(code_for(&error), ExitCode::from(SESSION_BUSY));
    }

    #[test]
    fn a_panic_becomes_exit_code_70() {
        let code = catch_panics(|| panic!("index out of bounds"));
        assert_eq!(code, ExitCode::from(INTERNAL_ERROR));
        assert_eq!(ExitCode::SUCCESS, catch_panics(|| ExitCode::SUCCESS));
    }

    #[test]
    fn a_panic_message_becomes_one_line() {
        assert_eq!(
            internal_error_line("two\nlines"),
            "internal error: two lines (this is a bug in argus; RUST_BACKTRACE=1 shows where)"
        );
    }
}
