//! Events of a streamed run.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::error::AgentError;
use super::trace::{RunOutput, Step};
use crate::message::{Message, ToolCall};

/// Something that happened during a run, in order.
#[derive(Debug)]
#[non_exhaustive]
pub enum AgentEvent {
    /// More assistant text of the current step.
    TextDelta {
        /// The step.
        step: u32,
        /// The new text.
        text: String,
    },
    /// A tool call was dispatched.
    ToolCallStarted {
        /// The step.
        step: u32,
        /// The call.
        call: ToolCall,
    },
    /// A tool call finished (or failed); the message is what the model will read.
    ToolCallFinished {
        /// The step.
        step: u32,
        /// The tool message.
        result: Message,
    },
    /// A step completed (and was committed to memory, when the agent has memory).
    StepFinished {
        /// The step.
        step: Step,
    },
    /// The conversation was handed off: from this step on, `to` runs it.
    Handoff {
        /// The step that called the `transfer_to_` tool.
        step: u32,
        /// The agent that handed off, when it has a name.
        from: Option<String>,
        /// The agent that took over.
        to: String,
    },
    /// The run ended with an answer. Always the last event of a successful run.
    Final {
        /// The answer and trace (boxed: the other events are small and frequent).
        output: Box<RunOutput>,
    },
    /// The run failed. Always the last event of a failed run.
    Error {
        /// Why.
        error: AgentError,
    },
}

/// The events of a run started with [`Agent::run_stream`](super::Agent::run_stream).
///
/// Dropping the stream cancels the run.
#[derive(Debug)]
pub struct AgentStream {
    pub(super) events: mpsc::Receiver<AgentEvent>,
    pub(super) cancel: CancellationToken,
}

impl Stream for AgentStream {
    type Item = AgentEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<AgentEvent>> {
        self.events.poll_recv(cx)
    }
}

impl AgentStream {
    /// Cancels the run; the stream then ends with an `Error` event carrying `Cancelled`.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }
}

impl Drop for AgentStream {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
