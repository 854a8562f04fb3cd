//! Exit codes scripts can rely on, and the errors that choose them.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the command failed (model, memory or tool error) |
//! | 2 | bad command line (unknown flag or value) |
//! | 3 | something named does not exist (model path, session, file) |
//! | 4 | invalid input (bad image, malformed file, invalid data) |
//! | 130 | interrupted (Ctrl-C) |

use std::fmt;
use std::process::ExitCode;

/// An error the user can fix, with the exit code that says which kind.
#[derive(Debug)]
pub(crate) struct UserError {
    code: u8,
    message: String,
}

impl UserError {
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
    match error.downcast_ref::<UserError>() {
        Some(user) => ExitCode::from(user.code),
        None => ExitCode::FAILURE,
    }
}

/// The one-line message for a failed command: the error and its causes, joined.
pub(crate) fn one_line(error: &anyhow::Error) -> String {
    format!("{error:#}").replace('\n', " ")
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
