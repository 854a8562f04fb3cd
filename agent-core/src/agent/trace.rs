//! What a run did: its steps, answer and token usage.

use serde::{Deserialize, Serialize};

use crate::memory::RunId;
use crate::message::Message;
use crate::model::{FinishReason, Usage};

/// One model call and the tool calls it asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Position in the run's log (step 0 is the user's input, so model steps start at 1).
    pub index: u32,
    /// The assistant message, with its tool calls.
    pub assistant: Message,
    /// One tool message per call, in call order.
    pub tool_results: Vec<Message>,
    /// Why generation stopped.
    pub finish_reason: FinishReason,
    /// Tokens and timings of the model call.
    pub usage: Usage,
    /// Wall time of the step (model and tools) in microseconds.
    pub duration_us: u64,
}

/// The steps of a run so far and the tokens it used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunTrace {
    /// The run.
    pub run_id: RunId,
    /// Every completed step, in order.
    pub steps: Vec<Step>,
    /// Token usage summed over all steps.
    pub usage: Usage,
}

/// A finished run: the final answer and the full trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutput {
    /// The final answer's text.
    pub answer: String,
    /// The final assistant message.
    pub message: Message,
    /// Every step of the run, the last one included.
    pub trace: RunTrace,
}
