//! Why a tool call failed, as the conversation records it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of a tool-call failure: what the model should do differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ToolErrorKind {
    /// No tool of that name is registered.
    UnknownTool,
    /// The arguments do not match the tool's schema.
    InvalidArguments,
    /// The tool ran and reported an error.
    Failed,
    /// The tool did not finish within its timeout.
    Timeout,
    /// The tool panicked.
    Panicked,
    /// The approval hook refused the call.
    Denied,
    /// The run was cancelled while the tool ran.
    Cancelled,
    /// The tool ran out of steps: an agent used as a tool reached its step limit without an
    /// answer.
    StepLimit,
}

impl ToolErrorKind {
    /// The snake_case name used in messages and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolErrorKind::UnknownTool => "unknown_tool",
            ToolErrorKind::InvalidArguments => "invalid_arguments",
            ToolErrorKind::Failed => "failed",
            ToolErrorKind::Timeout => "timeout",
            ToolErrorKind::Panicked => "panicked",
            ToolErrorKind::Denied => "denied",
            ToolErrorKind::Cancelled => "cancelled",
            ToolErrorKind::StepLimit => "step_limit",
        }
    }
}

impl fmt::Display for ToolErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
