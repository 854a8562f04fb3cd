//! What a tool receives besides its arguments.

use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

use crate::memory::SessionId;
use crate::message::ImageRef;

/// Per-call context: which call and session this is, the run's cancellation, and a way to
/// attach images to the conversation.
#[derive(Debug, Clone, Default)]
pub struct ToolContext {
    call_id: String,
    session_id: Option<SessionId>,
    cancel: CancellationToken,
    attachments: Arc<Mutex<Vec<ImageRef>>>,
}

impl ToolContext {
    /// A context for call `call_id`.
    pub fn new(call_id: impl Into<String>) -> Self {
        ToolContext {
            call_id: call_id.into(),
            ..ToolContext::default()
        }
    }

    /// Sets the session.
    pub fn with_session(mut self, session_id: Option<SessionId>) -> Self {
        self.session_id = session_id;
        self
    }

    /// Sets the cancellation token.
    pub fn with_cancellation(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Id of the call being served.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The agent's session, when it has memory.
    pub fn session_id(&self) -> Option<&SessionId> {
        self.session_id.as_ref()
    }

    /// Cancelled when the run is cancelled: long-running tools should stop early.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Attaches an image to the tool result, so a vision model sees it on its next turn.
    pub fn attach_image(&self, image: ImageRef) {
        self.attachments
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(image);
    }

    /// Takes the images attached so far.
    pub fn take_attachments(&self) -> Vec<ImageRef> {
        std::mem::take(
            &mut *self
                .attachments
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}
