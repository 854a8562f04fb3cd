//! The model trait: a chat request in, a response (text, tool calls, usage) out.

mod replay;
#[cfg(feature = "test-utils")]
mod scripted;
mod text_output;

use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use futures::Stream;
use serde::{Deserialize, Serialize};

use crate::history::History;
use crate::message::{Message, ToolCall};
use crate::parse::MalformedCall;
use crate::tool::ToolSpec;
use crate::usage::Usage;

pub use replay::{RecordingModel, ReplayError, ReplayModel};
#[cfg(feature = "test-utils")]
pub use scripted::ScriptedModel;
pub use text_output::{AssembledOutput, CallAssembler, OutputMode};

/// Whether and which tools the model may call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "name")]
#[non_exhaustive]
pub enum ToolChoice {
    /// Never call a tool.
    None,
    /// The model decides.
    #[default]
    Auto,
    /// The model must call one of the offered tools.
    Required,
    /// The model must call this tool.
    Specific(String),
}

/// Sampling settings; `None` fields take the model's defaults. All `None` means greedy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// Softmax temperature; 0 or `None` is greedy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Keep only the `k` most likely tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<usize>,
    /// Random seed for reproducible sampling. A model that cannot honour it for a sampled
    /// request refuses the request with [`ModelError::InvalidRequest`] rather than ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl Sampling {
    /// Whether these settings mean greedy decoding: a temperature of 0 or below, or nothing set
    /// that samples (no temperature, `top_p` or `top_k`).
    pub fn is_greedy(&self) -> bool {
        match self.temperature {
            Some(t) => t <= 0.0,
            None => self.top_p.is_none() && self.top_k.is_none(),
        }
    }
}

/// Everything a model needs for one turn.
///
/// Cheap to clone: the conversation and the tool specs are shared, so building a request costs
/// the same at every step of a run however long the conversation has grown.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChatRequest {
    /// The conversation so far, system prompt first.
    pub messages: History,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "<[ToolSpec]>::is_empty")]
    pub tools: Arc<[ToolSpec]>,
    /// Whether and which tools the model may call.
    #[serde(default)]
    pub tool_choice: ToolChoice,
    /// Sampling settings.
    #[serde(default)]
    pub sampling: Sampling,
    /// Cap on generated tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Generation stops when one of these strings is produced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// A JSON Schema the answer's text must match (structured output). A model that cannot
    /// honour it refuses the request with [`ModelError::InvalidRequest`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<OutputSchema>,
}

/// A named JSON Schema for structured output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputSchema {
    /// A name for the schema (OpenAI's `json_schema.name`): letters, digits, `_` and `-`.
    pub name: String,
    /// The JSON Schema.
    pub schema: serde_json::Value,
}

impl ChatRequest {
    /// A request with these messages and default settings.
    ///
    /// ```
    /// use argus_core::{ChatRequest, Message, ToolChoice, ToolSpec};
    /// use serde_json::json;
    ///
    /// let request = ChatRequest::new(vec![Message::user("What time is it?")])
    ///     .with_tools(vec![ToolSpec {
    ///         name: "now".into(),
    ///         description: "The current time.".into(),
    ///         parameters: json!({"type": "object"}),
    ///     }])
    ///     .with_tool_choice(ToolChoice::Required)
    ///     .with_max_tokens(64);
    /// assert_eq!(request.tools[0].name, "now");
    /// ```
    pub fn new(messages: impl Into<History>) -> Self {
        ChatRequest {
            messages: messages.into(),
            ..ChatRequest::default()
        }
    }

    /// Sets the tools the model may call.
    pub fn with_tools(mut self, tools: impl Into<Arc<[ToolSpec]>>) -> Self {
        self.tools = tools.into();
        self
    }

    /// Sets whether and which tools the model may call.
    pub fn with_tool_choice(mut self, choice: ToolChoice) -> Self {
        self.tool_choice = choice;
        self
    }

    /// Sets the sampling settings.
    pub fn with_sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// Sets the cap on generated tokens.
    pub fn with_max_tokens(mut self, tokens: u32) -> Self {
        self.max_tokens = Some(tokens);
        self
    }

    /// Sets the stop sequences.
    pub fn with_stop(mut self, stop: Vec<String>) -> Self {
        self.stop = stop;
        self
    }

    /// Asks for an answer that matches `schema`.
    pub fn with_output_schema(
        mut self,
        name: impl Into<String>,
        schema: serde_json::Value,
    ) -> Self {
        self.output_schema = Some(OutputSchema {
            name: name.into(),
            schema,
        });
        self
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FinishReason {
    /// The model ended its turn.
    #[default]
    Stop,
    /// The token cap was reached.
    Length,
    /// The model asked for tool calls.
    ToolCalls,
    /// A stop sequence was produced.
    StopSequence,
    /// The request was cancelled.
    Cancelled,
}

impl FinishReason {
    /// A backend's own reason (OpenAI's and mistral.rs's spelling): `length`, `tool_calls` or
    /// `function_call`, `canceled` or `cancelled`; anything else (`stop`, `eos`,
    /// `content_filter`, ...) is [`FinishReason::Stop`].
    pub fn from_backend(reason: &str) -> FinishReason {
        match reason {
            "length" => FinishReason::Length,
            "tool_calls" | "function_call" => FinishReason::ToolCalls,
            "canceled" | "cancelled" => FinishReason::Cancelled,
            _ => FinishReason::Stop,
        }
    }

    /// The reason as written in JSON (and in OpenTelemetry's `gen_ai.response.finish_reasons`).
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::StopSequence => "stop_sequence",
            FinishReason::Cancelled => "cancelled",
        }
    }
}

/// A model's answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The assistant message: remaining text plus parsed tool calls.
    pub message: Message,
    /// Why generation stopped.
    pub finish_reason: FinishReason,
    /// Token counts and timings.
    #[serde(default)]
    pub usage: Usage,
    /// Tool calls the model tried to write but that could not be parsed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed_calls: Vec<MalformedCall>,
}

impl ChatResponse {
    /// A plain text answer.
    pub fn text(text: impl Into<String>) -> Self {
        ChatResponse {
            message: Message::assistant(text),
            finish_reason: FinishReason::Stop,
            usage: Usage::default(),
            malformed_calls: Vec::new(),
        }
    }

    /// An answer that calls tools.
    pub fn tool_calls(calls: Vec<ToolCall>) -> Self {
        ChatResponse {
            message: Message::assistant_with_calls("", calls),
            finish_reason: FinishReason::ToolCalls,
            usage: Usage::default(),
            malformed_calls: Vec::new(),
        }
    }

    /// Sets the usage.
    pub fn with_usage(mut self, usage: Usage) -> Self {
        self.usage = usage;
        self
    }
}

/// One event of a streamed response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum StreamEvent {
    /// More assistant text.
    TextDelta {
        /// The new text.
        text: String,
    },
    /// A complete tool call.
    ToolCall {
        /// The call.
        call: ToolCall,
    },
    /// The end of the stream, with the whole response.
    Done {
        /// The complete response, as `chat` would have returned it.
        response: ChatResponse,
    },
}

/// A stream of response events; the last item is `StreamEvent::Done` or an error.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, ModelError>> + Send>>;

/// Why a model call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The request cannot be served as given (e.g. too long, unsupported content).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The model's backend failed.
    #[error("model backend failed: {message}")]
    Backend {
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A scripted or replayed model has no more responses.
    #[error("the model has no more responses (after {served})")]
    Exhausted {
        /// Responses served before running out.
        served: usize,
    },
    /// The request was cancelled.
    #[error("the model call was cancelled")]
    Cancelled,
    /// The prompt does not fit the model's context window; the model was not called.
    #[error("the prompt is {prompt_tokens} tokens, more than the model's context window of {limit} leaves room for")]
    ContextOverflow {
        /// Tokens of the prompt as the model's own tokenizer counts them.
        prompt_tokens: usize,
        /// Tokens the prompt may take: the context window less room for at least one token of answer.
        limit: usize,
    },
}

impl ModelError {
    /// A backend failure with a message only.
    pub fn backend(message: impl Into<String>) -> Self {
        ModelError::Backend {
            message: message.into(),
            source: None,
        }
    }
}

/// A chat model: the agent loop's only view of an LLM.
///
/// Object safe: agents hold an `Arc<dyn ChatModel>`.
///
/// ```
/// use argus_core::{async_trait, ChatModel, ChatRequest, ChatResponse, ModelError};
///
/// struct Echo;
///
/// #[async_trait]
/// impl ChatModel for Echo {
///     async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
///         let last = request.messages.last().map(|m| m.text()).unwrap_or_default();
///         Ok(ChatResponse::text(last))
///     }
/// }
/// # let answer = futures::executor::block_on(Echo.chat(ChatRequest::new(vec!["hi".into()])));
/// # assert_eq!(answer.unwrap().message.text(), "hi");
/// ```
#[async_trait]
#[diagnostic::on_unimplemented(
    note = "implement `chat` with `#[async_trait]`; `chat_stream` has a default built on `chat`"
)]
pub trait ChatModel: Send + Sync {
    /// Answers one request.
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError>;

    /// Answers one request as a stream of events. The default calls [`ChatModel::chat`] and
    /// yields its text as one delta, each tool call, then `Done`.
    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        let response = self.chat(request).await?;
        Ok(Box::pin(futures::stream::iter(response_events(response))))
    }

    /// A short name for logs and traces.
    fn name(&self) -> &str {
        "model"
    }

    /// The model's context window in tokens (prompt and answer together), when known.
    fn context_length(&self) -> Option<usize> {
        None
    }

    /// Counts a message's prompt tokens with the model's own tokenizer, when it has one here.
    /// Context strategies size themselves with it (see [`crate::ContextStrategy::TokenBudget`]).
    fn token_counter(&self) -> Option<crate::TokenCounter> {
        None
    }

    /// How an agent should show this model images when it also offers tools. The default
    /// reads the model's [`name`](ChatModel::name) with [`VisionStrategy::for_model_name`](crate::VisionStrategy::for_model_name).
    fn vision_strategy(&self) -> crate::VisionStrategy {
        crate::VisionStrategy::for_model_name(self.name())
    }
}

/// The events a stream yields for a complete response: text, tool calls, `Done`.
pub fn response_events(response: ChatResponse) -> Vec<Result<StreamEvent, ModelError>> {
    let mut events = Vec::new();
    let text = response.message.text();
    if !text.is_empty() {
        events.push(Ok(StreamEvent::TextDelta { text }));
    }
    for call in &response.message.tool_calls {
        events.push(Ok(StreamEvent::ToolCall { call: call.clone() }));
    }
    events.push(Ok(StreamEvent::Done { response }));
    events
}

#[async_trait]
impl<M: ChatModel + ?Sized> ChatModel for Arc<M> {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        (**self).chat(request).await
    }

    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        (**self).chat_stream(request).await
    }

    fn name(&self) -> &str {
        (**self).name()
    }

    fn context_length(&self) -> Option<usize> {
        (**self).context_length()
    }

    fn token_counter(&self) -> Option<crate::TokenCounter> {
        (**self).token_counter()
    }

    fn vision_strategy(&self) -> crate::VisionStrategy {
        (**self).vision_strategy()
    }
}

#[async_trait]
impl<M: ChatModel + ?Sized> ChatModel for Box<M> {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        (**self).chat(request).await
    }

    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        (**self).chat_stream(request).await
    }

    fn name(&self) -> &str {
        (**self).name()
    }

    fn context_length(&self) -> Option<usize> {
        (**self).context_length()
    }

    fn token_counter(&self) -> Option<crate::TokenCounter> {
        (**self).token_counter()
    }

    fn vision_strategy(&self) -> crate::VisionStrategy {
        (**self).vision_strategy()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use futures::StreamExt;
    use serde_json::json;

    struct Fixed;

    #[async_trait]
    impl ChatModel for Fixed {
        async fn chat(&self, _request: ChatRequest) -> Result<ChatResponse, ModelError> {
            let mut response = ChatResponse::tool_calls(vec![ToolCall::new("now", json!({}))]);
            response.message.content = vec![crate::ContentPart::Text {
                text: "checking".into(),
            }];
            Ok(response)
        }
    }

    #[tokio::test]
    async fn default_stream_yields_text_calls_then_done() {
        let model: Arc<dyn ChatModel> = Arc::new(Fixed);
        let events: Vec<_> = model
            .chat_stream(ChatRequest::default())
            .await
            .unwrap()
            .collect()
            .await;
        assert_eq!(events.len(), 3);
        assert!(matches!(&events[0], Ok(StreamEvent::TextDelta { text }) if text == "checking"));
        assert!(matches!(&events[1], Ok(StreamEvent::ToolCall { call }) if call.name == "now"));
        assert!(matches!(&events[2], Ok(StreamEvent::Done { .. })));
    }

    #[test]
    fn request_round_trips_through_json() {
        let request = ChatRequest {
            messages: vec![Message::system("s"), Message::user("u")].into(),
            tools: Arc::from([ToolSpec {
                name: "now".into(),
                description: "time".into(),
                parameters: json!({"type": "object"}),
            }]),
            tool_choice: ToolChoice::Specific("now".into()),
            sampling: Sampling {
                temperature: Some(0.5),
                top_p: None,
                top_k: Some(3),
                seed: Some(7),
            },
            max_tokens: Some(64),
            stop: vec!["</s>".into()],
            output_schema: Some(OutputSchema {
                name: "answer".into(),
                schema: json!({"type": "object"}),
            }),
        };
        let json = serde_json::to_string(&request).unwrap();
        assert_eq!(serde_json::from_str::<ChatRequest>(&json).unwrap(), request);
    }
}
