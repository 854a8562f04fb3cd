//! Replaying recorded responses from a JSONL file, and recording them.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use super::{ChatModel, ChatRequest, ChatResponse, ModelError};

/// Why a recording could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The file could not be read or written.
    #[error("cannot access recording {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a recorded response.
    #[error("recording {path}, line {line}: {source}")]
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

/// A [`ChatModel`] that replays responses recorded one JSON object per line (see
/// [`RecordingModel`]), so an agent run can be reproduced without the model.
#[derive(Debug)]
pub struct ReplayModel {
    responses: Mutex<VecDeque<ChatResponse>>,
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
            let response = serde_json::from_str(line).map_err(|e| (index + 1, e))?;
            responses.push_back(response);
        }
        let total = responses.len();
        Ok(ReplayModel {
            responses: Mutex::new(responses),
            total,
        })
    }
}

#[async_trait]
impl ChatModel for ReplayModel {
    async fn chat(&self, _request: ChatRequest) -> Result<ChatResponse, ModelError> {
        let mut responses = self
            .responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let served = self.total - responses.len();
        responses
            .pop_front()
            .ok_or(ModelError::Exhausted { served })
    }

    fn name(&self) -> &str {
        "replay"
    }
}

/// Wraps a model and appends each of its responses to a JSONL file that [`ReplayModel`] reads.
#[derive(Debug)]
pub struct RecordingModel<M> {
    inner: M,
    out: Mutex<BufWriter<File>>,
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
            out: Mutex::new(BufWriter::new(file)),
        })
    }
}

#[async_trait]
impl<M: ChatModel> ChatModel for RecordingModel<M> {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        let response = self.inner.chat(request).await?;
        let line = serde_json::to_string(&response)
            .map_err(|e| ModelError::backend(format!("cannot record response: {e}")))?;
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|e| ModelError::backend(format!("cannot record response: {e}")))?;
        Ok(response)
    }

    fn name(&self) -> &str {
        self.inner.name()
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
