//! The values a memory stores and returns: sessions, runs, steps, searches and exports.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::message::{ImageRef, Message, Role};
use crate::usage::Usage;

/// Identifies a conversation session.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    /// A session id from a name chosen by the user or program.
    pub fn new(id: impl Into<String>) -> Self {
        SessionId(id.into())
    }

    /// A fresh random id.
    pub fn random() -> Self {
        SessionId(uuid::Uuid::new_v4().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for SessionId {
    fn from(id: &str) -> Self {
        SessionId::new(id)
    }
}

impl From<String> for SessionId {
    fn from(id: String) -> Self {
        SessionId(id)
    }
}

/// Identifies one agent run (one user input and the steps that answer it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    /// A run id from text.
    pub fn new(id: impl Into<String>) -> Self {
        RunId(id.into())
    }

    /// A fresh random id.
    pub fn random() -> Self {
        RunId(uuid::Uuid::new_v4().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Its id.
    pub id: SessionId,
    /// A human-readable title.
    pub title: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// Last change, milliseconds since the Unix epoch.
    pub updated_at_ms: i64,
    /// Free-form metadata.
    #[serde(default)]
    pub metadata: Value,
    /// Number of messages stored.
    pub message_count: u64,
}

/// What to create a session with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewSession {
    /// The id; a random one when `None`.
    pub id: Option<SessionId>,
    /// The title.
    pub title: String,
    /// Free-form metadata.
    #[serde(default)]
    pub metadata: Value,
}

impl NewSession {
    /// A session with this id and title.
    pub fn named(id: impl Into<SessionId>, title: impl Into<String>) -> Self {
        NewSession {
            id: Some(id.into()),
            title: title.into(),
            metadata: Value::Null,
        }
    }

    /// The new session's info, created at `now_ms`: a random id when none was given, no
    /// messages yet.
    pub fn into_info(self, now_ms: i64) -> SessionInfo {
        SessionInfo {
            id: self.id.unwrap_or_else(SessionId::random),
            title: self.title,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            metadata: self.metadata,
            message_count: 0,
        }
    }
}

/// One agent step, appended to memory in a single transaction as it completes.
///
/// Step 0 of a run holds the user's input; each later step the assistant message and the tool
/// results that answer its calls. The final step has `is_final` set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The run this step belongs to.
    pub run_id: RunId,
    /// Position in the run, from 0, without gaps.
    pub index: u32,
    /// The messages the step added to the conversation, in order.
    pub messages: Vec<Message>,
    /// Tokens and timings of the step's model call.
    #[serde(default)]
    pub usage: Usage,
    /// Whether this step ended the run with a final answer.
    #[serde(default)]
    pub is_final: bool,
}

/// The state of a run according to its log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run.
    pub run_id: RunId,
    /// Number of committed steps.
    pub steps: u32,
    /// Whether the final step was committed.
    pub finished: bool,
}

/// What an observation of images answers: the images (by SHA-256, in order), the question it
/// was made for and the model that looked. Observations are cached under it (see
/// [`VisionStrategy::PerceiveThenAct`](crate::VisionStrategy::PerceiveThenAct)).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObservationKey {
    /// The observed images' SHA-256s, in the order they were shown.
    pub images: Vec<String>,
    /// The question the observation was made for.
    pub question: String,
    /// The model that made it.
    pub model: String,
}

impl ObservationKey {
    /// A key for `images` observed for `question` by `model`.
    pub fn new(images: Vec<String>, question: impl Into<String>, model: impl Into<String>) -> Self {
        ObservationKey {
            images,
            question: question.into(),
            model: model.into(),
        }
    }

    /// A hex SHA-256 of the whole key: what stores index it by.
    pub fn digest(&self) -> String {
        let mut text = String::new();
        for part in [self.model.as_str(), self.question.as_str()] {
            text.push_str(&part.len().to_string());
            text.push(':');
            text.push_str(part);
        }
        for image in &self.images {
            text.push('/');
            text.push_str(image);
        }
        crate::message::sha256_hex(text.as_bytes())
    }
}

/// A full-text search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchQuery {
    /// Words to find.
    pub text: String,
    /// Restrict to one session; `None` searches all.
    pub session: Option<SessionId>,
    /// Maximum number of hits.
    pub limit: usize,
}

impl SearchQuery {
    /// A search over all sessions returning at most 10 hits.
    pub fn new(text: impl Into<String>) -> Self {
        SearchQuery {
            text: text.into(),
            session: None,
            limit: 10,
        }
    }

    /// Restricts the search to one session.
    pub fn in_session(mut self, session: SessionId) -> Self {
        self.session = Some(session);
        self
    }

    /// Sets the hit limit.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The session of the message.
    pub session_id: SessionId,
    /// Position of the message in its session, from 0.
    pub position: u64,
    /// Role of the message.
    pub role: Role,
    /// An excerpt around the match.
    pub snippet: String,
    /// Relevance; higher is better.
    pub score: f64,
}

/// A committed step of the run log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedStep {
    /// The step as it was appended.
    pub step: StepRecord,
    /// When it was committed, milliseconds since the Unix epoch.
    pub committed_at_ms: i64,
}

/// A session with its run log and images, as portable JSON.
///
/// [`SessionStore::import_session`](super::SessionStore::import_session) recreates the session
/// exactly: same id, title, timestamps, metadata, messages (with image bytes where they were
/// written with bytes) and run log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionExport {
    /// The format version, [`SessionExport::FORMAT`] when written by this build.
    pub format: u32,
    /// The session.
    pub session: SessionInfo,
    /// The run log in commit order. The session's messages are the steps' messages, in order.
    pub steps: Vec<LoggedStep>,
    /// Images the messages refer to without carrying their bytes, with the bytes (base64)
    /// when the store has them. Images a message carries are not repeated here.
    #[serde(default)]
    pub images: Vec<ImageRef>,
}

impl SessionExport {
    /// The format version this build writes and the newest it reads.
    pub const FORMAT: u32 = 1;
}
