//! Why a tool call failed, in a form the model can act on.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error_kind::ToolErrorKind;

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
