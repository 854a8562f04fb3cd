//! Conversation memory, in two traits: the run log the agent writes and reads ([`RunLog`]),
//! and the administration of stored sessions ([`SessionStore`]); [`Memory`] is both.
//!
//! The rules of the log ([`validate_step`], [`advance_run`], [`validate_export`]) and the
//! context walk ([`select_context`], [`read_context`]) live here, so every backend enforces
//! the same rules and chooses the same context.

mod error;
mod in_memory;
mod lease;
mod rules;
#[cfg(any(test, feature = "test-utils"))]
mod testing;
mod types;
mod window;

use async_trait::async_trait;

use crate::message::Message;

pub use error::MemoryError;
pub use in_memory::InMemoryMemory;
pub use lease::{HeldSession, SessionLease, SessionLocks};
#[cfg(any(test, feature = "test-utils"))]
pub use rules::invalid_steps;
pub use rules::{advance_run, validate_export, validate_image, validate_step};
#[cfg(any(test, feature = "test-utils"))]
pub use testing::any_conversation;
pub use types::{
    LoggedStep, NewSession, ObservationKey, RunId, RunSummary, SearchHit, SearchQuery,
    SessionExport, SessionId, SessionInfo, StepRecord,
};
pub use window::{
    read_context, read_context_in_chunks, select_context, ContextStrategy, MessageSource,
    TokenCounter,
};

/// The run log: what an [`Agent`](crate::Agent) needs from memory. Steps are appended one at a
/// time, each atomically; the context of the next model call is loaded from them; an
/// interrupted run is found and resumed from its last committed step.
///
/// An implementation checks each step with [`validate_step`] before writing and with
/// [`advance_run`] inside the write, and loads context with [`read_context`] (or
/// [`select_context`]), so every backend accepts the same steps and returns the same context.
///
/// ```
/// use argus_core::{ContextStrategy, InMemoryMemory, Message, NewSession, RunId, RunLog, StepRecord};
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
/// let run = memory.last_run(&session.id).await.unwrap().unwrap();
/// assert_eq!((run.steps, run.finished), (1, false));
/// # });
/// ```
#[async_trait]
#[diagnostic::on_unimplemented(note = "implement the trait with `#[async_trait]`")]
pub trait RunLog: Send + Sync {
    /// Creates a session (the agent creates its session on first use).
    async fn create_session(&self, new: NewSession) -> Result<SessionInfo, MemoryError>;

    /// Appends one step atomically: all its messages or none. Fails with
    /// [`MemoryError::InvalidInput`] when [`validate_step`] rejects it, and with
    /// [`MemoryError::StepOutOfOrder`] or [`MemoryError::RunFinished`] when [`advance_run`]
    /// does.
    async fn append_step(&self, session: &SessionId, step: &StepRecord) -> Result<(), MemoryError>;

    /// The messages to send with the next model call, chosen by `strategy`.
    async fn load_context(
        &self,
        session: &SessionId,
        strategy: &ContextStrategy,
    ) -> Result<Vec<Message>, MemoryError>;

    /// The session's most recently started run, if any.
    async fn last_run(&self, session: &SessionId) -> Result<Option<RunSummary>, MemoryError>;

    /// The committed steps of run `run_id` of `session`, in order, with their messages: what
    /// an interrupted run can be inspected and resumed from. Empty for an unknown run.
    async fn run_steps(
        &self,
        session: &SessionId,
        run_id: &RunId,
    ) -> Result<Vec<LoggedStep>, MemoryError>;

    /// The cached observation under `key` (see
    /// [`VisionStrategy::PerceiveThenAct`](crate::VisionStrategy::PerceiveThenAct)), if this
    /// log keeps one. The default keeps none.
    async fn observation(&self, key: &ObservationKey) -> Result<Option<String>, MemoryError> {
        let _ = key;
        Ok(None)
    }

    /// Keeps an observation for later runs and sessions. The default keeps none.
    async fn save_observation(&self, key: &ObservationKey, text: &str) -> Result<(), MemoryError> {
        let _ = (key, text);
        Ok(())
    }

    /// Holds `session` for one run, so the steps of two runs never interleave: every process
    /// sharing the store sees the hold. Waits up to `wait` for a run holding it, then fails
    /// with [`MemoryError::SessionBusy`]. The session need not exist yet.
    ///
    /// An [`Agent`](crate::Agent) holds its session from loading the context to its last step.
    /// The default holds nothing ([`SessionLease::unguarded`]): runs on a store without locks
    /// may interleave. Argus's stores all implement it.
    async fn lock_session(
        &self,
        session: &SessionId,
        wait: std::time::Duration,
    ) -> Result<SessionLease, MemoryError> {
        let _ = (session, wait);
        Ok(SessionLease::unguarded())
    }
}

/// Administration of stored sessions: look up, list, rename, delete, search, export and
/// import. Nothing here is needed to run an agent.
///
/// ```
/// use argus_core::{InMemoryMemory, Message, NewSession, RunId, RunLog, SearchQuery, SessionStore, StepRecord};
///
/// # futures::executor::block_on(async {
/// let memory = InMemoryMemory::new();
/// let id = memory.create_session(NewSession::named("demo", "Demo")).await.unwrap().id;
/// let step = StepRecord {
///     run_id: RunId::new("r1"),
///     index: 0,
///     messages: vec![Message::user("the quokka smiles")],
///     usage: Default::default(),
///     is_final: true,
/// };
/// memory.append_step(&id, &step).await.unwrap();
/// assert_eq!(memory.search(&SearchQuery::new("quokka")).await.unwrap().len(), 1);
///
/// let export = memory.export_session(&id).await.unwrap();
/// let copy = InMemoryMemory::new();
/// copy.import_session(&export).await.unwrap();
/// assert_eq!(copy.export_session(&id).await.unwrap(), export);
/// # });
/// ```
#[async_trait]
#[diagnostic::on_unimplemented(note = "implement the trait with `#[async_trait]`")]
pub trait SessionStore: Send + Sync {
    /// One session.
    async fn session(&self, id: &SessionId) -> Result<SessionInfo, MemoryError>;

    /// All sessions, most recently updated first.
    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, MemoryError>;

    /// Changes a session's title.
    async fn rename_session(&self, id: &SessionId, title: &str) -> Result<(), MemoryError>;

    /// Deletes a session and everything only it refers to: its runs and messages, the images
    /// no other session holds, and the observations of those images.
    async fn delete_session(&self, id: &SessionId) -> Result<(), MemoryError>;

    /// Full-text search over messages, best first.
    async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>, MemoryError>;

    /// The whole session as one value, from one consistent snapshot.
    async fn export_session(&self, id: &SessionId) -> Result<SessionExport, MemoryError>;

    /// Recreates an exported session, all of it or nothing. Fails with
    /// [`MemoryError::SessionExists`] if a session with its id exists, and with what
    /// [`validate_export`] finds.
    async fn import_session(&self, export: &SessionExport) -> Result<SessionInfo, MemoryError>;
}

/// A complete memory: the run log and session administration. Implemented for every type that
/// implements both, so `Arc<dyn Memory>` serves an agent (as `Arc<dyn RunLog>`) and a
/// `sessions` command alike.
pub trait Memory: RunLog + SessionStore {}

impl<M: RunLog + SessionStore + ?Sized> Memory for M {}

#[async_trait]
impl<M: RunLog + ?Sized> RunLog for std::sync::Arc<M> {
    async fn create_session(&self, new: NewSession) -> Result<SessionInfo, MemoryError> {
        (**self).create_session(new).await
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
    async fn run_steps(
        &self,
        session: &SessionId,
        run_id: &RunId,
    ) -> Result<Vec<LoggedStep>, MemoryError> {
        (**self).run_steps(session, run_id).await
    }
    async fn observation(&self, key: &ObservationKey) -> Result<Option<String>, MemoryError> {
        (**self).observation(key).await
    }
    async fn save_observation(&self, key: &ObservationKey, text: &str) -> Result<(), MemoryError> {
        (**self).save_observation(key, text).await
    }
    async fn lock_session(
        &self,
        session: &SessionId,
        wait: std::time::Duration,
    ) -> Result<SessionLease, MemoryError> {
        (**self).lock_session(session, wait).await
    }
}

#[async_trait]
impl<M: SessionStore + ?Sized> SessionStore for std::sync::Arc<M> {
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
    async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>, MemoryError> {
        (**self).search(query).await
    }
    async fn export_session(&self, id: &SessionId) -> Result<SessionExport, MemoryError> {
        (**self).export_session(id).await
    }
    async fn import_session(&self, export: &SessionExport) -> Result<SessionInfo, MemoryError> {
        (**self).import_session(export).await
    }
}
