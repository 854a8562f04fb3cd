//! Why a memory operation failed.

use std::time::Duration;

use super::{RunId, SessionId};

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
    /// Another run holds the session (see [`RunLog::lock_session`](super::RunLog::lock_session))
    /// and did not release it within `waited`. Nothing was written.
    #[error("session `{session}` is busy: another run holds it (waited {waited:?})")]
    SessionBusy {
        /// The session.
        session: SessionId,
        /// How long this run waited for it.
        waited: Duration,
    },
    /// The input breaks a rule of the run log (see [`validate_step`](super::validate_step)):
    /// an image whose hash does not match, a tool result without its call, an export of a
    /// newer format. Nothing of it was written.
    #[error("invalid input: {0}")]
    InvalidInput(String),
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
    /// An [`InvalidInput`](MemoryError::InvalidInput) error.
    pub fn invalid(reason: impl Into<String>) -> Self {
        MemoryError::InvalidInput(reason.into())
    }

    /// A backend failure with a message only.
    pub fn backend(message: impl Into<String>) -> Self {
        MemoryError::Backend {
            message: message.into(),
            source: None,
        }
    }
}
