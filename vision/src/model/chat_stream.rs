//! The [`ChatStream`] of a streamed request: engine chunks become text deltas, tool calls and
//! the final response.

use std::collections::VecDeque;

use argus_core::{CallAssembler, ChatRequest, ChatStream, ModelError, OutputMode, StreamEvent};
use mistralrs::Response;
use tokio::sync::mpsc::Receiver;

use super::stream::engine_error;
use super::MistralRsModel;

/// The state of one streamed response.
pub(super) struct StreamState {
    model: MistralRsModel,
    request: ChatRequest,
    rx: Receiver<Response>,
    assembler: Option<CallAssembler>,
    pending: VecDeque<Result<StreamEvent, ModelError>>,
    hits: usize,
    done: bool,
    /// Chunks with a choice received so far (one per generated token).
    chunks: usize,
}

impl StreamState {
    /// The state of a request just sent: `rx` yields its chunks, `hits` is the prefix-cache
    /// hit count before it.
    pub(super) fn new(
        model: MistralRsModel,
        request: ChatRequest,
        rx: Receiver<Response>,
        mode: OutputMode,
        hits: usize,
    ) -> Self {
        StreamState {
            model,
            request,
            rx,
            assembler: Some(CallAssembler::new(mode)),
            pending: VecDeque::new(),
            hits,
            done: false,
            chunks: 0,
        }
    }

    /// The events of the response, one per call of [`next`](Self::next).
    pub(super) fn into_stream(self) -> ChatStream {
        Box::pin(futures::stream::unfold(self, |mut state| async move {
            let event = state.next().await?;
            Some((event, state))
        }))
    }

    /// mistral.rs 0.8.1 sends no final chunk when generation ends inside an incomplete UTF-8
    /// sequence (its delta is held back and the finish reason with it) and then closes the
    /// channel. Generation did end, so the response is completed from what arrived: the finish
    /// reason is `Length` when one chunk per token reached the cap, else `Stop`; the engine's
    /// usage is lost, so only the completion tokens (one per chunk) are counted.
    fn closed_without_finish(&mut self) -> Option<Result<StreamEvent, ModelError>> {
        let Some(assembler) = self.assembler.take().filter(|_| self.chunks > 0) else {
            return Some(Err(ModelError::backend(
                "the engine closed the stream before it finished",
            )));
        };
        tracing::warn!(
            chunks = self.chunks,
            "mistral.rs closed the stream without a final chunk; completing the response"
        );
        let finished = assembler.finish();
        if !finished.tail.is_empty() {
            self.pending.push_back(Ok(StreamEvent::TextDelta {
                text: finished.tail.clone(),
            }));
        }
        let cap = self
            .request
            .max_tokens
            .unwrap_or(self.model.inner.settings.default_max_tokens)
            .max(1) as usize;
        let reason = if self.chunks >= cap { "length" } else { "stop" };
        let mut response = finished.response(reason);
        response.usage.completion_tokens = self.chunks as u64;
        for call in &response.message.tool_calls {
            self.pending
                .push_back(Ok(StreamEvent::ToolCall { call: call.clone() }));
        }
        self.pending.push_back(Ok(StreamEvent::Done { response }));
        self.pending.pop_front()
    }

    async fn next(&mut self) -> Option<Result<StreamEvent, ModelError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.done {
                return None;
            }
            let Some(response) = self.rx.recv().await else {
                self.done = true;
                return self.closed_without_finish();
            };
            if let Some(error) = engine_error(&response) {
                self.done = true;
                return Some(Err(error));
            }
            let Response::Chunk(chunk) = response else {
                continue;
            };
            let Some(choice) = chunk.choices.first() else {
                continue;
            };
            self.chunks += 1;
            let assembler = self.assembler.as_mut()?;
            if let Some(delta) = choice.delta.content.as_deref() {
                let shown = assembler.push(delta);
                if !shown.is_empty() {
                    self.pending
                        .push_back(Ok(StreamEvent::TextDelta { text: shown }));
                }
            }
            if let Some(reason) = &choice.finish_reason {
                let finished = self.assembler.take()?.finish();
                if !finished.tail.is_empty() {
                    self.pending.push_back(Ok(StreamEvent::TextDelta {
                        text: finished.tail.clone(),
                    }));
                }
                let mut response = finished.response(reason);
                response.usage = self.model.finish_usage(
                    &self.request,
                    chunk.usage.as_ref(),
                    self.hits,
                    &finished.raw,
                );
                for call in &response.message.tool_calls {
                    self.pending
                        .push_back(Ok(StreamEvent::ToolCall { call: call.clone() }));
                }
                self.pending.push_back(Ok(StreamEvent::Done { response }));
                self.done = true;
            }
        }
    }
}
