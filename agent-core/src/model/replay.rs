//! Replaying recorded responses from a JSONL file, and recording them.
//!
//! Each line is one model call: a response as `chat` returned it, or `{"events": [...]}` for a
//! streamed call (every event, the final `done` included), so a replayed stream yields the same
//! deltas as the recorded one.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};

use super::{
    response_events, ChatModel, ChatRequest, ChatResponse, ChatStream, ModelError, StreamEvent,
};

/// Why a recording could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The file could not be read or written.
    #[error("cannot access recording {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a recorded response.
    #[error("recording {path}, line {line} is not a recorded response")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

/// One recorded model call.
#[derive(Debug, Clone, PartialEq)]
enum Recorded {
    /// A streamed call: its events, the last one `Done`.
    Stream {
        /// The events in order.
        events: Vec<StreamEvent>,
    },
    /// A call answered at once.
    Response(ChatResponse),
}

impl Recorded {
    /// Reads a line: a stream when it has `events`, otherwise a response.
    fn parse(line: &str) -> Result<Self, serde_json::Error> {
        let value: serde_json::Value = serde_json::from_str(line)?;
        if value.get("events").is_some() {
            let StreamLine { events } =
                serde_json::from_value::<StreamLine<Vec<StreamEvent>>>(value)?;
            Ok(Recorded::Stream { events })
        } else {
            serde_json::from_value(value).map(Recorded::Response)
        }
    }

    /// The whole response: a stream's `Done` response.
    fn into_response(self) -> Result<ChatResponse, ModelError> {
        match self {
            Recorded::Response(response) => Ok(response),
            Recorded::Stream { events } => events
                .into_iter()
                .find_map(|event| match event {
                    StreamEvent::Done { response } => Some(response),
                    _ => None,
                })
                .ok_or_else(|| ModelError::backend("the recorded stream has no final response")),
        }
    }

    fn into_events(self) -> Vec<Result<StreamEvent, ModelError>> {
        match self {
            Recorded::Response(response) => response_events(response),
            Recorded::Stream { events } => events.into_iter().map(Ok).collect(),
        }
    }
}

/// The line of a streamed call.
#[derive(Serialize, Deserialize)]
struct StreamLine<E> {
    events: E,
}

/// A [`ChatModel`] that replays responses recorded one JSON object per line (see
/// [`RecordingModel`]), so an agent run can be reproduced without the model. A streamed
/// recording replays its events one by one; `chat` on it returns the stream's final response.
#[derive(Debug)]
pub struct ReplayModel {
    responses: Mutex<VecDeque<Recorded>>,
    total: usize,
}

impl ReplayModel {
    /// Reads a JSONL recording; blank lines are skipped.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ReplayError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ReplayError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_jsonl(&text).map_err(|(line, source)| ReplayError::Parse {
            path: path.to_path_buf(),
            line,
            source,
        })
    }

    /// Parses a JSONL recording; on error, returns the 1-based line number.
    pub fn from_jsonl(text: &str) -> Result<Self, (usize, serde_json::Error)> {
        let mut responses = VecDeque::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let recorded = Recorded::parse(line).map_err(|e| (index + 1, e))?;
            responses.push_back(recorded);
        }
        let total = responses.len();
        Ok(ReplayModel {
            responses: Mutex::new(responses),
            total,
        })
    }
}

impl ReplayModel {
    fn next(&self) -> Result<Recorded, ModelError> {
        let mut responses = self
            .responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let served = self.total - responses.len();
        responses
            .pop_front()
            .ok_or(ModelError::Exhausted { served })
    }
}

#[async_trait]
impl ChatModel for ReplayModel {
    async fn chat(&self, _request: ChatRequest) -> Result<ChatResponse, ModelError> {
        self.next()?.into_response()
    }

    async fn chat_stream(&self, _request: ChatRequest) -> Result<ChatStream, ModelError> {
        let events = self.next()?.into_events();
        Ok(Box::pin(futures::stream::iter(events)))
    }

    fn name(&self) -> &str {
        "replay"
    }
}

/// Wraps a model and appends each of its responses to a JSONL file that [`ReplayModel`] reads.
/// A streamed call is recorded with all its events once its stream ends with `Done`; a call
/// that fails or a stream dropped early records nothing.
#[derive(Debug)]
pub struct RecordingModel<M> {
    inner: M,
    out: Arc<Mutex<BufWriter<File>>>,
}

impl<M: ChatModel> RecordingModel<M> {
    /// Records `inner`'s responses to `path` (created or truncated).
    pub fn new(inner: M, path: impl AsRef<Path>) -> Result<Self, ReplayError> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)
            .map_err(|source| ReplayError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(RecordingModel {
            inner,
            out: Arc::new(Mutex::new(BufWriter::new(file))),
        })
    }
}

/// Appends one recorded call as a line.
fn write_line(out: &Mutex<BufWriter<File>>, recorded: &impl Serialize) -> Result<(), ModelError> {
    let cannot = |source: Box<dyn std::error::Error + Send + Sync>| ModelError::Backend {
        message: "cannot record the response".into(),
        source: Some(source),
    };
    let line = serde_json::to_string(recorded).map_err(|e| cannot(e.into()))?;
    let mut out = out.lock().unwrap_or_else(PoisonError::into_inner);
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| cannot(e.into()))
}

#[async_trait]
impl<M: ChatModel> ChatModel for RecordingModel<M> {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        let response = self.inner.chat(request).await?;
        write_line(&self.out, &response)?;
        Ok(response)
    }

    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        let stream = self.inner.chat_stream(request).await?;
        let out = Arc::clone(&self.out);
        let mut seen = Vec::new();
        let recorded = stream.map(move |event| {
            let event = event?;
            let done = matches!(event, StreamEvent::Done { .. });
            seen.push(event.clone());
            if done {
                let events = std::mem::take(&mut seen);
                write_line(&out, &StreamLine { events })?;
            }
            Ok(event)
        });
        Ok(Box::pin(recorded))
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn context_length(&self) -> Option<usize> {
        self.inner.context_length()
    }

    fn token_counter(&self) -> Option<crate::TokenCounter> {
        self.inner.token_counter()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ToolCall;
    use serde_json::json;

    struct Counter(Mutex<u32>);

    #[async_trait]
    impl ChatModel for Counter {
        async fn chat(&self, _request: ChatRequest) -> Result<ChatResponse, ModelError> {
            let mut n = self.0.lock().unwrap();
            *n += 1;
            Ok(if *n == 1 {
                ChatResponse::tool_calls(vec![ToolCall::new("add", json!({"a": 1}))])
            } else {
                ChatResponse::text(format!("answer {n}"))
            })
        }
    }

    #[tokio::test]
    async fn recorded_responses_replay_identically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.jsonl");
        let recorder = RecordingModel::new(Counter(Mutex::new(0)), &path).unwrap();
        let mut originals = Vec::new();
        for _ in 0..3 {
            originals.push(recorder.chat(ChatRequest::default()).await.unwrap());
        }
        let replay = ReplayModel::from_file(&path).unwrap();
        for original in originals {
            assert_eq!(replay.chat(ChatRequest::default()).await.unwrap(), original);
        }
        assert!(matches!(
            replay.chat(ChatRequest::default()).await,
            Err(ModelError::Exhausted { served: 3 })
        ));
    }

    #[tokio::test]
    async fn streamed_calls_replay_their_events() {
        use crate::ScriptedModel;
        use futures::StreamExt;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stream.jsonl");
        let scripted = ScriptedModel::new()
            .then_text("Hello wide world")
            .then_call("now", json!({}))
            .then_text("plain");
        let recorder = RecordingModel::new(scripted, &path).unwrap();
        let recorded: Vec<StreamEvent> = recorder
            .chat_stream(ChatRequest::default())
            .await
            .unwrap()
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(recorded.len(), 4, "three words, then done: {recorded:?}");
        let called = recorder.chat(ChatRequest::default()).await.unwrap();
        // A stream dropped before `Done` records nothing.
        drop(recorder.chat_stream(ChatRequest::default()).await.unwrap());

        let replay = ReplayModel::from_file(&path).unwrap();
        let replayed: Vec<StreamEvent> = replay
            .chat_stream(ChatRequest::default())
            .await
            .unwrap()
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(replayed, recorded);
        // A response recorded from `chat` streams as text, calls, then done.
        let events: Vec<_> = replay
            .chat_stream(ChatRequest::default())
            .await
            .unwrap()
            .collect()
            .await;
        assert!(matches!(&events[0], Ok(StreamEvent::ToolCall { call }) if call.name == "now"));
        assert!(matches!(&events[1], Ok(StreamEvent::Done { response }) if *response == called));
        assert!(matches!(
            replay.chat(ChatRequest::default()).await,
            Err(ModelError::Exhausted { served: 2 })
        ));

        // `chat` on a recorded stream answers with the stream's final response.
        let replay = ReplayModel::from_file(&path).unwrap();
        let StreamEvent::Done { response } = recorded.last().unwrap().clone() else {
            panic!("the stream ends with done");
        };
        assert_eq!(replay.chat(ChatRequest::default()).await.unwrap(), response);
    }

    #[test]
    fn errors_name_their_cause_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.jsonl");
        std::fs::write(&path, "\n{\"events\": 3}\n").unwrap();
        let error = ReplayModel::from_file(&path).unwrap_err();
        let source = std::error::Error::source(&error).unwrap().to_string();
        assert!(!error.to_string().contains(&source), "{error}");
        assert!(error.to_string().contains("line 2"), "{error}");
    }

    #[test]
    fn bad_lines_and_missing_files_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.jsonl");
        std::fs::write(&path, "{\"message\": 1}\n").unwrap();
        assert!(matches!(
            ReplayModel::from_file(&path),
            Err(ReplayError::Parse { line: 1, .. })
        ));
        assert!(matches!(
            ReplayModel::from_file(dir.path().join("missing.jsonl")),
            Err(ReplayError::Io { .. })
        ));
    }
}
