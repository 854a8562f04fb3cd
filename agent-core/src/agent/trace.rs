//! What a run did: its steps, answer and token usage.

use std::sync::Arc;

use serde::ser::SerializeStruct as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::memory::RunId;
use crate::message::Message;
use crate::model::FinishReason;
use crate::usage::Usage;

/// One model call and the tool calls it asked for.
///
/// The step's messages are the segment the run's history holds: reading a trace copies nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Position in the run's log (step 0 is the user's input, so model steps start at 1).
    pub index: u32,
    /// The assistant message followed by the tool results; never empty.
    messages: Arc<[Message]>,
    /// Why generation stopped.
    pub finish_reason: FinishReason,
    /// Tokens and timings of the model call.
    pub usage: Usage,
    /// Wall time of the step (model and tools) in microseconds.
    pub duration_us: u64,
}

impl Step {
    /// A step whose messages are `assistant` and then `tool_results`.
    pub fn new(
        index: u32,
        assistant: Message,
        tool_results: Vec<Message>,
        finish_reason: FinishReason,
        usage: Usage,
        duration_us: u64,
    ) -> Self {
        let mut messages = Vec::with_capacity(1 + tool_results.len());
        messages.push(assistant);
        messages.extend(tool_results);
        Self::from_segment(index, messages.into(), finish_reason, usage, duration_us)
    }

    /// A step over a shared segment that starts with the assistant message.
    pub(crate) fn from_segment(
        index: u32,
        messages: Arc<[Message]>,
        finish_reason: FinishReason,
        usage: Usage,
        duration_us: u64,
    ) -> Self {
        debug_assert!(!messages.is_empty(), "a step holds its assistant message");
        Step {
            index,
            messages,
            finish_reason,
            usage,
            duration_us,
        }
    }

    /// The assistant message, with its tool calls.
    pub fn assistant(&self) -> &Message {
        &self.messages[0]
    }

    /// One tool message per call, in call order.
    pub fn tool_results(&self) -> &[Message] {
        &self.messages[1..]
    }

    /// The assistant message and the tool results, as the history holds them.
    pub fn messages(&self) -> &Arc<[Message]> {
        &self.messages
    }
}

impl Serialize for Step {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut step = serializer.serialize_struct("Step", 6)?;
        step.serialize_field("index", &self.index)?;
        step.serialize_field("assistant", self.assistant())?;
        step.serialize_field("tool_results", self.tool_results())?;
        step.serialize_field("finish_reason", &self.finish_reason)?;
        step.serialize_field("usage", &self.usage)?;
        step.serialize_field("duration_us", &self.duration_us)?;
        step.end()
    }
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// The serialised form of a step.
        #[derive(Deserialize)]
        struct Fields {
            index: u32,
            assistant: Message,
            tool_results: Vec<Message>,
            finish_reason: FinishReason,
            usage: Usage,
            duration_us: u64,
        }
        let f = Fields::deserialize(deserializer)?;
        Ok(Step::new(
            f.index,
            f.assistant,
            f.tool_results,
            f.finish_reason,
            f.usage,
            f.duration_us,
        ))
    }
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
    /// The name of the agent that answered: the one the run started with, or the last one
    /// it was handed off to; `None` when that agent has no name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The answer's value, for a typed run ([`Agent::run_typed`](super::Agent::run_typed)):
    /// valid against the output type's schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured: Option<serde_json::Value>,
}

impl RunOutput {
    /// The typed run's value as a `T`; an error when the run was not typed or `T` is not the
    /// type it was run with.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        match &self.structured {
            Some(value) => T::deserialize(value),
            None => Err(serde::de::Error::custom("the run has no structured answer")),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::message::{ToolCall, ToolResultInfo};
    use serde_json::json;

    #[test]
    fn steps_serialise_with_assistant_and_tool_results_fields() {
        let call = ToolCall::new("now", json!({}));
        let result = Message::tool_result(
            ToolResultInfo {
                call_id: call.id.clone(),
                name: "now".into(),
                error: None,
                duration_us: 3,
            },
            "10:00",
        );
        let step = Step::new(
            1,
            Message::assistant_with_calls("", vec![call]),
            vec![result.clone()],
            FinishReason::ToolCalls,
            Usage::default(),
            42,
        );
        let json = serde_json::to_value(&step).unwrap();
        assert_eq!(json["index"], 1);
        assert_eq!(json["assistant"]["tool_calls"][0]["name"], "now");
        assert_eq!(json["tool_results"][0]["content"][0]["text"], "10:00");
        assert_eq!(json["duration_us"], 42);
        let back: Step = serde_json::from_value(json).unwrap();
        assert_eq!(back, step);
        assert_eq!(back.tool_results(), [result]);
        assert_eq!(back.messages().len(), 2);
    }
}
