//! Asking before a side-effecting tool runs.

use async_trait::async_trait;

use crate::message::ToolCall;
use crate::tool::ToolSpec;

/// The answer of an [`ApprovalHook`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// Run the call.
    Approve,
    /// Do not run it; the model is told why.
    Deny {
        /// Shown to the model as the tool result.
        reason: String,
    },
}

/// Called before every call of a tool whose policy is
/// [`ToolEffect::SideEffecting`](crate::ToolEffect::SideEffecting).
///
/// An agent without a hook runs side-effecting tools without asking.
#[async_trait]
pub trait ApprovalHook: Send + Sync {
    /// Decides whether `call` of the tool described by `spec` may run.
    async fn approve(&self, call: &ToolCall, spec: &ToolSpec) -> Approval;
}

#[async_trait]
impl<F> ApprovalHook for F
where
    F: Fn(&ToolCall, &ToolSpec) -> Approval + Send + Sync,
{
    async fn approve(&self, call: &ToolCall, spec: &ToolSpec) -> Approval {
        self(call, spec)
    }
}
