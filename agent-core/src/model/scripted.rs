//! A model that answers from a script and records every request: for deterministic tests.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::{
    response_events, ChatModel, ChatRequest, ChatResponse, ChatStream, FinishReason, ModelError,
    StreamEvent,
};
use crate::message::{Message, ToolCall};
use crate::parse::{parse_tool_calls, ToolCallFormat};

#[derive(Debug, Clone)]
enum Entry {
    Respond(ChatResponse),
    Fail(String),
    Delay(Duration, Box<Entry>),
}

/// A [`ChatModel`] that returns scripted responses in order and records every request.
///
/// ```
/// use argus_core::{ChatModel, ChatRequest, ScriptedModel};
/// use serde_json::json;
///
/// # futures::executor::block_on(async {
/// let model = ScriptedModel::new()
///     .then_call("add", json!({"a": 1, "b": 2}))
///     .then_text("3");
/// let first = model.chat(ChatRequest::new(vec!["1+2?".into()])).await.unwrap();
/// assert_eq!(first.message.tool_calls[0].name, "add");
/// assert_eq!(model.requests().len(), 1);
/// # });
/// ```
#[derive(Debug, Default)]
pub struct ScriptedModel {
    script: Mutex<VecDeque<Entry>>,
    requests: Mutex<Vec<ChatRequest>>,
    served: Mutex<usize>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ScriptedModel {
    /// An empty script.
    pub fn new() -> Self {
        Self::default()
    }

    /// A script of these responses.
    pub fn from_responses(responses: impl IntoIterator<Item = ChatResponse>) -> Self {
        let model = Self::new();
        lock(&model.script).extend(responses.into_iter().map(Entry::Respond));
        model
    }

    fn push(self, entry: Entry) -> Self {
        lock(&self.script).push_back(entry);
        self
    }

    /// Next, answer with this response.
    pub fn then(self, response: ChatResponse) -> Self {
        self.push(Entry::Respond(response))
    }

    /// Next, answer with plain text.
    pub fn then_text(self, text: impl Into<String>) -> Self {
        self.then(ChatResponse::text(text))
    }

    /// Next, call one tool.
    pub fn then_call(self, name: impl Into<String>, arguments: Value) -> Self {
        self.then_calls(vec![ToolCall::new(name, arguments)])
    }

    /// Next, call several tools in one step.
    pub fn then_calls(self, calls: Vec<ToolCall>) -> Self {
        self.then(ChatResponse::tool_calls(calls))
    }

    /// Next, answer with raw model output, parsed for tool calls like a real model's.
    pub fn then_raw(self, output: &str) -> Self {
        let parsed = parse_tool_calls(output, ToolCallFormat::Auto);
        let calls: Vec<ToolCall> = parsed
            .calls
            .into_iter()
            .map(|call| ToolCall::new(call.name, call.arguments))
            .collect();
        let finish_reason = if calls.is_empty() {
            FinishReason::Stop
        } else {
            FinishReason::ToolCalls
        };
        self.then(ChatResponse {
            message: Message::assistant_with_calls(parsed.content, calls),
            finish_reason,
            usage: Default::default(),
            malformed_calls: parsed.malformed,
        })
    }

    /// Next, fail with a backend error.
    pub fn then_error(self, message: impl Into<String>) -> Self {
        self.push(Entry::Fail(message.into()))
    }

    /// Next, wait `delay` before answering with `response`.
    pub fn then_after(self, delay: Duration, response: ChatResponse) -> Self {
        self.push(Entry::Delay(delay, Box::new(Entry::Respond(response))))
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<ChatRequest> {
        lock(&self.requests).clone()
    }

    /// Number of scripted entries not yet used.
    pub fn remaining(&self) -> usize {
        lock(&self.script).len()
    }

    async fn next(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        lock(&self.requests).push(request);
        let entry = lock(&self.script).pop_front();
        let served = {
            let mut served = lock(&self.served);
            *served += 1;
            *served - 1
        };
        let mut entry = entry.ok_or(ModelError::Exhausted { served })?;
        loop {
            match entry {
                Entry::Respond(response) => return Ok(response),
                Entry::Fail(message) => return Err(ModelError::backend(message)),
                Entry::Delay(delay, next) => {
                    tokio::time::sleep(delay).await;
                    entry = *next;
                }
            }
        }
    }
}

#[async_trait]
impl ChatModel for ScriptedModel {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        self.next(request).await
    }

    /// Streams the text word by word (keeping whitespace), then the calls, then `Done`.
    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        let response = self.next(request).await?;
        let text = response.message.text();
        let mut events: Vec<Result<StreamEvent, ModelError>> = split_words(&text)
            .into_iter()
            .map(|word| {
                Ok(StreamEvent::TextDelta {
                    text: word.to_string(),
                })
            })
            .collect();
        events.extend(
            response_events(response)
                .into_iter()
                .filter(|e| !matches!(e, Ok(StreamEvent::TextDelta { .. }))),
        );
        Ok(Box::pin(futures::stream::iter(events)))
    }

    fn name(&self) -> &str {
        "scripted"
    }
}

/// Splits after each run of whitespace, so the pieces concatenate to the input.
fn split_words(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut in_space = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            in_space = true;
        } else if in_space {
            pieces.push(&text[start..i]);
            start = i;
            in_space = false;
        }
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn answers_in_order_records_requests_and_runs_out() {
        let model = ScriptedModel::new().then_text("one").then_error("down");
        let answer = model
            .chat(ChatRequest::new(vec!["a".into()]))
            .await
            .unwrap();
        assert_eq!(answer.message.text(), "one");
        assert!(matches!(
            model.chat(ChatRequest::default()).await,
            Err(ModelError::Backend { .. })
        ));
        assert!(matches!(
            model.chat(ChatRequest::default()).await,
            Err(ModelError::Exhausted { served: 2 })
        ));
        assert_eq!(model.requests().len(), 3);
        assert_eq!(model.requests()[0].messages[0].text(), "a");
    }

    #[tokio::test]
    async fn stream_deltas_concatenate_to_the_text() {
        let model = ScriptedModel::new().then_text("Hello  wide\nworld!");
        let mut stream = model.chat_stream(ChatRequest::default()).await.unwrap();
        let mut text = String::new();
        let mut deltas = 0;
        while let Some(event) = stream.next().await {
            match event.unwrap() {
                StreamEvent::TextDelta { text: delta } => {
                    text.push_str(&delta);
                    deltas += 1;
                }
                StreamEvent::Done { response } => assert_eq!(response.message.text(), text),
                StreamEvent::ToolCall { .. } => unreachable!(),
            }
        }
        assert_eq!(text, "Hello  wide\nworld!");
        assert_eq!(deltas, 3);
    }
}
