//! Why a tool call failed, in a form the model can act on.

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
        }
    }
}

impl fmt::Display for ToolErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed tool call: its kind, a short explanation for the model and, for invalid
/// arguments, the offending field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolFailure {
    /// What went wrong.
    pub kind: ToolErrorKind,
    /// Short, actionable text for the model.
    pub message: String,
    /// JSON pointer of the offending argument (invalid arguments only), e.g. `/city`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ToolFailure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: ToolErrorKind, message: impl Into<String>) -> Self {
        ToolFailure {
            kind,
            message: message.into(),
            field: None,
        }
    }

    /// The text the model reads as the tool result.
    pub fn to_model_text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ToolFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error ({}): ", self.kind)?;
        if let Some(field) = &self.field {
            write!(f, "argument `{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ToolFailure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_text_names_kind_and_field() {
        let mut failure = ToolFailure::new(ToolErrorKind::InvalidArguments, "expected integer");
        failure.field = Some("/a".into());
        assert_eq!(
            failure.to_model_text(),
            "error (invalid_arguments): argument `/a`: expected integer"
        );
        assert_eq!(
            ToolFailure::new(ToolErrorKind::Timeout, "no answer within 1s").to_string(),
            "error (timeout): no answer within 1s"
        );
    }
}
