//! The memory trait: sessions, an atomic per-step run log, context windows and search.

mod in_memory;
mod window;

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::message::{Message, Role};
use crate::usage::Usage;

pub use in_memory::InMemoryMemory;
pub use window::{select_context, ContextStrategy, TokenCounter};

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

/// Why a memory operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryError {
    /// No session has this id.
    #[error("session `{0}` not found")]
    SessionNotFound(SessionId),
    /// A session with this id exists already.
    #[error("session `{0}` already exists")]
    SessionExists(SessionId),
    /// The step's index does not follow the run's last committed step.
    #[error("step {index} of run `{run_id}` is out of order (expected {expected})")]
    StepOutOfOrder {
        /// The run.
        run_id: RunId,
        /// The index given.
        index: u32,
        /// The next index the log expects.
        expected: u32,
    },
    /// The run is finished and takes no more steps.
    #[error("run `{0}` is already finished")]
    RunFinished(RunId),
    /// The storage backend failed.
    #[error("memory backend failed: {message}")]
    Backend {
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl MemoryError {
    /// A backend failure with a message only.
    pub fn backend(message: impl Into<String>) -> Self {
        MemoryError::Backend {
            message: message.into(),
            source: None,
        }
    }
}

/// Conversation memory: sessions of messages, written one agent step at a time.
///
/// ```
/// use argus_core::{ContextStrategy, InMemoryMemory, Memory, Message, NewSession, RunId, StepRecord};
///
/// # futures::executor::block_on(async {
/// let memory = InMemoryMemory::new();
/// let session = memory.create_session(NewSession::named("demo", "Demo")).await.unwrap();
/// let step = StepRecord {
///     run_id: RunId::new("r1"),
///     index: 0,
///     messages: vec![Message::user("hello")],
///     usage: Default::default(),
///     is_final: false,
/// };
/// memory.append_step(&session.id, &step).await.unwrap();
/// let context = memory.load_context(&session.id, &ContextStrategy::Full).await.unwrap();
/// assert_eq!(context[0].text(), "hello");
/// # });
/// ```
#[async_trait]
#[diagnostic::on_unimplemented(note = "implement the trait with `#[async_trait]`")]
pub trait Memory: Send + Sync {
    /// Creates a session.
    async fn create_session(&self, new: NewSession) -> Result<SessionInfo, MemoryError>;

    /// One session.
    async fn session(&self, id: &SessionId) -> Result<SessionInfo, MemoryError>;

    /// All sessions, most recently updated first.
    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, MemoryError>;

    /// Changes a session's title.
    async fn rename_session(&self, id: &SessionId, title: &str) -> Result<(), MemoryError>;

    /// Deletes a session and everything only it refers to.
    async fn delete_session(&self, id: &SessionId) -> Result<(), MemoryError>;

    /// Appends one step atomically: all its messages or none.
    async fn append_step(&self, session: &SessionId, step: &StepRecord) -> Result<(), MemoryError>;

    /// The messages to send with the next model call, chosen by `strategy`.
    async fn load_context(
        &self,
        session: &SessionId,
        strategy: &ContextStrategy,
    ) -> Result<Vec<Message>, MemoryError>;

    /// The session's most recent run, if any.
    async fn last_run(&self, session: &SessionId) -> Result<Option<RunSummary>, MemoryError>;

    /// Full-text search over messages, best first.
    async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>, MemoryError>;
}

#[async_trait]
impl<M: Memory + ?Sized> Memory for std::sync::Arc<M> {
    async fn create_session(&self, new: NewSession) -> Result<SessionInfo, MemoryError> {
        (**self).create_session(new).await
    }
    async fn session(&self, id: &SessionId) -> Result<SessionInfo, MemoryError> {
        (**self).session(id).await
    }
    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, MemoryError> {
        (**self).list_sessions().await
    }
    async fn rename_session(&self, id: &SessionId, title: &str) -> Result<(), MemoryError> {
        (**self).rename_session(id, title).await
    }
    async fn delete_session(&self, id: &SessionId) -> Result<(), MemoryError> {
        (**self).delete_session(id).await
    }
    async fn append_step(&self, session: &SessionId, step: &StepRecord) -> Result<(), MemoryError> {
        (**self).append_step(session, step).await
    }
    async fn load_context(
        &self,
        session: &SessionId,
        strategy: &ContextStrategy,
    ) -> Result<Vec<Message>, MemoryError> {
        (**self).load_context(session, strategy).await
    }
    async fn last_run(&self, session: &SessionId) -> Result<Option<RunSummary>, MemoryError> {
        (**self).last_run(session).await
    }
    async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>, MemoryError> {
        (**self).search(query).await
    }
}
