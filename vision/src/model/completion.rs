//! Raw completion ([`PromptMode::Completion`](super::PromptMode)) for base models: the
//! conversation's text is continued as it is, with no chat template and no system prompt.
//!
//! A base model given a chat template and a system prompt repeats them and runs on to the
//! length limit; given the bare text, it continues it.

use argus_core::{
    ChatRequest, ChatResponse, ChatStream, FinishReason, Message, ModelError, Role, StreamEvent,
    ToolChoice, Usage,
};
use mistralrs::{Constraint, RequestMessage, Response};
use tokio::sync::mpsc::Receiver;

use super::messages::sampling;
use super::stream::engine_error;
use super::{usage, MistralRsModel};

/// The text to complete: the non-system messages' text in order, one per line (a single user
/// message is its text as is). Images and forced tool calls are refused; offered tools are not
/// shown to the model.
pub(crate) fn prompt(request: &ChatRequest) -> Result<String, ModelError> {
    if matches!(
        request.tool_choice,
        ToolChoice::Required | ToolChoice::Specific(_)
    ) {
        return Err(ModelError::InvalidRequest(
            "a model in raw-completion mode cannot be made to call a tool".into(),
        ));
    }
    if request.messages.iter().any(|m| m.images().next().is_some()) {
        return Err(ModelError::InvalidRequest(
            "a model in raw-completion mode takes no images".into(),
        ));
    }
    let parts: Vec<String> = request
        .messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(Message::text)
        .collect();
    let text = parts.join("\n");
    if text.is_empty() {
        return Err(ModelError::InvalidRequest(
            "there is no text to complete".into(),
        ));
    }
    Ok(text)
}

/// A completed text as the kernel's response.
fn response(text: String, reason: &str, usage: Usage) -> ChatResponse {
    ChatResponse {
        message: Message::assistant(text),
        finish_reason: FinishReason::from_backend(reason),
        usage,
        malformed_calls: Vec::new(),
    }
}

impl MistralRsModel {
    /// Counts the completion prompt, caps generation to the window and sends it; returns the
    /// receiver and the prompt's token count.
    async fn send_completion(
        &self,
        request: &ChatRequest,
        streaming: bool,
    ) -> Result<(Receiver<Response>, usize), ModelError> {
        let text = prompt(request)?;
        let mut params = sampling(request, self.inner.settings.default_max_tokens)?;
        let messages = RequestMessage::Completion {
            text,
            echo_prompt: false,
            best_of: None,
        };
        let requested = self.max_tokens(request);
        let prompt_tokens =
            super::window::count_prompt(&self.inner.model, messages.clone()).await?;
        if let Some(context) = self.inner.context_length {
            params.max_len = Some(super::window::fit(prompt_tokens, context, requested)?);
        }
        let rx = super::stream::submit(
            &self.inner.model,
            messages,
            params,
            Constraint::None,
            streaming,
        )
        .await?;
        Ok((rx, prompt_tokens))
    }

    /// [`ChatModel::chat`](argus_core::ChatModel::chat) in raw-completion mode.
    pub(super) async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, ModelError> {
        let (mut rx, _) = self.send_completion(request, false).await?;
        let answer = rx
            .recv()
            .await
            .ok_or_else(|| ModelError::backend("the engine dropped the request"))?;
        if let Some(error) = engine_error(&answer) {
            return Err(error);
        }
        let Response::CompletionDone(done) = answer else {
            return Err(ModelError::backend(
                "mistral.rs sent an unexpected response to a completion",
            ));
        };
        let choice = done
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| ModelError::backend("mistral.rs returned no choices"))?;
        Ok(response(
            choice.text,
            &choice.finish_reason,
            usage::from_mistralrs(&done.usage),
        ))
    }

    /// [`ChatModel::chat_stream`](argus_core::ChatModel::chat_stream) in raw-completion mode.
    /// mistral.rs sends no usage with completion chunks: the prompt tokens are the count made
    /// before sending, the completion tokens one per chunk.
    pub(super) async fn complete_stream(
        &self,
        request: ChatRequest,
    ) -> Result<ChatStream, ModelError> {
        let (rx, prompt_tokens) = self.send_completion(&request, true).await?;
        let state = CompletionStream {
            rx,
            text: String::new(),
            chunks: 0,
            prompt_tokens,
            pending: None,
            done: false,
        };
        Ok(Box::pin(futures::stream::unfold(
            state,
            |mut state| async move {
                let event = state.next().await?;
                Some((event, state))
            },
        )))
    }
}

/// The state of one streamed completion.
struct CompletionStream {
    rx: Receiver<Response>,
    text: String,
    chunks: usize,
    prompt_tokens: usize,
    /// The `Done` event that follows the last delta.
    pending: Option<StreamEvent>,
    done: bool,
}

impl CompletionStream {
    /// The `Done` event; the stream ends after it.
    fn finish(&mut self, reason: &str) -> StreamEvent {
        self.done = true;
        let usage = Usage::new(self.prompt_tokens as u64, self.chunks as u64);
        StreamEvent::Done {
            response: response(std::mem::take(&mut self.text), reason, usage),
        }
    }

    async fn next(&mut self) -> Option<Result<StreamEvent, ModelError>> {
        loop {
            if let Some(event) = self.pending.take() {
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            let Some(answer) = self.rx.recv().await else {
                // Closed without a finish reason (see `StreamState::closed_without_finish`):
                // generation did end.
                if self.chunks == 0 {
                    self.done = true;
                    return Some(Err(ModelError::backend(
                        "the engine closed the stream before it finished",
                    )));
                }
                return Some(Ok(self.finish("stop")));
            };
            if let Some(error) = engine_error(&answer) {
                self.done = true;
                return Some(Err(error));
            }
            let Response::CompletionChunk(chunk) = answer else {
                continue;
            };
            let Some(choice) = chunk.choices.into_iter().next() else {
                continue;
            };
            self.chunks += 1;
            self.text.push_str(&choice.text);
            if let Some(reason) = choice.finish_reason {
                let done = self.finish(&reason);
                if choice.text.is_empty() {
                    return Some(Ok(done));
                }
                // The last delta first; the next call yields `Done`.
                self.pending = Some(done);
                return Some(Ok(StreamEvent::TextDelta { text: choice.text }));
            }
            if !choice.text.is_empty() {
                return Some(Ok(StreamEvent::TextDelta { text: choice.text }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::ImageRef;

    #[test]
    fn the_prompt_is_the_text_without_the_system_prompt() {
        let request = ChatRequest::new(vec![
            Message::system("You are Argus."),
            Message::user("Water is made of hydrogen and"),
        ]);
        assert_eq!(prompt(&request).unwrap(), "Water is made of hydrogen and");
    }

    #[test]
    fn images_and_forced_calls_are_refused() {
        let image = ImageRef::from_bytes(vec![0x89, b'P', b'N', b'G'], "image/png");
        let request = ChatRequest::new(vec![Message::user_with_images("What?", vec![image])]);
        assert!(matches!(
            prompt(&request),
            Err(ModelError::InvalidRequest(_))
        ));
        let mut request = ChatRequest::new(vec![Message::user("2+2")]);
        request.tool_choice = ToolChoice::Required;
        assert!(matches!(
            prompt(&request),
            Err(ModelError::InvalidRequest(_))
        ));
        let request = ChatRequest::new(vec![Message::system("only a system prompt")]);
        assert!(prompt(&request).is_err());
    }
}
