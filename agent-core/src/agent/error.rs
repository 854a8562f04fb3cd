//! Why a run ended without an answer. Every variant carries the trace so far.

use crate::memory::MemoryError;
use crate::model::ModelError;

use super::trace::RunTrace;

/// Why a run ended without a final answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The run reached its step limit.
    #[error("the run reached its limit of {limit} model steps without a final answer")]
    StepLimit {
        /// The limit.
        limit: u32,
        /// What happened until then.
        trace: Box<RunTrace>,
    },
    /// Too many tool calls failed in a row.
    #[error("{failures} tool calls failed in a row; the run was stopped")]
    TooManyFailures {
        /// Consecutive failures counted.
        failures: u32,
        /// What happened until then.
        trace: Box<RunTrace>,
    },
    /// The run was cancelled.
    #[error("the run was cancelled")]
    Cancelled {
        /// What happened until then.
        trace: Box<RunTrace>,
    },
    /// The model failed.
    #[error("the model failed")]
    Model {
        /// The model's error.
        #[source]
        source: ModelError,
        /// What happened until then.
        trace: Box<RunTrace>,
    },
    /// Memory could not be read or written.
    #[error("memory failed")]
    Memory {
        /// The memory's error.
        #[source]
        source: MemoryError,
        /// What happened until then.
        trace: Box<RunTrace>,
    },
    /// A typed run's answer was still not a valid value after one repair.
    #[error("the answer is not a valid value: {reason}")]
    InvalidOutput {
        /// The answer as the model wrote it.
        raw: String,
        /// Why it was refused.
        reason: String,
        /// What happened until then.
        trace: Box<RunTrace>,
    },
    /// `resume` found no unfinished run.
    #[error("there is no unfinished run to resume")]
    NothingToResume,
}

impl AgentError {
    /// The trace of the run up to the failure (empty for `NothingToResume`).
    pub fn trace(&self) -> Option<&RunTrace> {
        match self {
            AgentError::StepLimit { trace, .. }
            | AgentError::TooManyFailures { trace, .. }
            | AgentError::Cancelled { trace }
            | AgentError::Model { trace, .. }
            | AgentError::Memory { trace, .. }
            | AgentError::InvalidOutput { trace, .. } => Some(trace),
            AgentError::NothingToResume => None,
        }
    }
}
