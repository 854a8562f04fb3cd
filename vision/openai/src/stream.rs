//! A streamed answer (server-sent events) as Argus stream events. Dropping the stream closes
//! the connection, which is how a cancelled run stops the server's work.

use std::collections::VecDeque;
use std::sync::Arc;

use argus_core::{ChatStream, ModelError, OutputMode, StreamEvent};
use eventsource_stream::{EventStreamError, Eventsource};
use futures::{Stream, StreamExt};

use crate::decode::{Chunk, StreamAssembler};
use crate::error::{RemoteError, TimeoutPhase};
use crate::http::bytes_stream::ChunkError;
use crate::Inner;

/// The events of a streamed response.
pub(crate) fn events(
    inner: Arc<Inner>,
    response: reqwest::Response,
    text_mode: Option<OutputMode>,
) -> ChatStream {
    let sse = inner.http.chunks(response).eventsource();
    let state = State {
        sse: Box::pin(sse),
        assembler: Some(StreamAssembler::new(text_mode)),
        pending: VecDeque::new(),
        inner,
    };
    Box::pin(futures::stream::unfold(state, |mut state| async move {
        let item = state.next().await?;
        Some((item, state))
    }))
}

type Sse = std::pin::Pin<
    Box<dyn Stream<Item = Result<eventsource_stream::Event, EventStreamError<ChunkError>>> + Send>,
>;

struct State {
    sse: Sse,
    /// `None` once the stream has ended (normally or with an error).
    assembler: Option<StreamAssembler>,
    pending: VecDeque<StreamEvent>,
    inner: Arc<Inner>,
}

impl State {
    async fn next(&mut self) -> Option<Result<StreamEvent, ModelError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(event));
            }
            let assembler = self.assembler.as_mut()?;
            let Some(item) = self.sse.next().await else {
                // The body ended: complete if the server said why it stopped, else broken.
                let assembler = self.assembler.take()?;
                if !assembler.finished() {
                    return Some(Err(self.broken("the stream ended before the answer did")));
                }
                self.pending.extend(assembler.finish());
                continue;
            };
            let event = match item {
                Ok(event) => event,
                Err(error) => {
                    self.assembler = None;
                    return Some(Err(self.chunk_error(error)));
                }
            };
            let data = event.data.trim();
            if data.is_empty() {
                continue;
            }
            if data == "[DONE]" {
                let assembler = self.assembler.take()?;
                self.pending.extend(assembler.finish());
                continue;
            }
            if let Some(message) = stream_error(data) {
                self.assembler = None;
                return Some(Err(self.broken(&format!("the server reported: {message}"))));
            }
            match serde_json::from_str::<Chunk>(data) {
                Ok(chunk) => {
                    if let Some(shown) = assembler.push(chunk) {
                        return Some(Ok(shown));
                    }
                }
                Err(error) => {
                    self.assembler = None;
                    return Some(Err(RemoteError::InvalidResponse {
                        url: self.inner.http.shown_url.clone(),
                        reason: format!(
                            "a streamed chunk is not JSON of a chat completion: {error}"
                        ),
                    }
                    .into()));
                }
            }
        }
    }

    fn broken(&self, reason: &str) -> ModelError {
        RemoteError::Stream {
            url: self.inner.http.shown_url.clone(),
            reason: reason.into(),
        }
        .into()
    }

    fn chunk_error(&self, error: EventStreamError<ChunkError>) -> ModelError {
        let http = &self.inner.http;
        match error {
            EventStreamError::Transport(ChunkError::Idle) => {
                http.timeout(TimeoutPhase::Idle).into()
            }
            EventStreamError::Transport(ChunkError::TooLarge) => http.too_large().into(),
            EventStreamError::Transport(ChunkError::Http(e)) => http.stream_error(&e).into(),
            other => self.broken(&format!("malformed server-sent events: {other}")),
        }
    }
}

/// The message of an `{"error": ..}` event some servers send mid-stream.
fn stream_error(data: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(data).ok()?;
    Some(match value.get("error")? {
        serde_json::Value::String(message) => message.clone(),
        other => other
            .get("message")
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| other.to_string()),
    })
}
