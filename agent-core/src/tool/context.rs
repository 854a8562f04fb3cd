//! What a tool receives besides its arguments.

use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

use crate::image_cache::ImageCache;
use crate::memory::SessionId;
use crate::message::ImageRef;

/// Per-call context: which call and session this is, the run's cancellation, the images of the
/// conversation (and the agent's [`ImageCache`] behind them), and a way to attach images to it.
#[derive(Debug, Clone, Default)]
pub struct ToolContext {
    call_id: String,
    session_id: Option<SessionId>,
    cancel: CancellationToken,
    images: Arc<Vec<ImageRef>>,
    image_cache: ImageCache,
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

    /// Sets the images of the conversation, in the order they appeared.
    pub fn with_images(mut self, images: Arc<Vec<ImageRef>>) -> Self {
        self.images = images;
        self
    }

    /// Sets the cache [`image`](ToolContext::image) also looks in: the agent's, which holds
    /// every image its runs have seen (within its limits), also those no longer in the
    /// context window.
    pub fn with_image_cache(mut self, cache: ImageCache) -> Self {
        self.image_cache = cache;
        self
    }

    /// The images of the conversation so far (the user's and those tools attached), in the
    /// order they appeared, each once; with bytes where the history or memory carries them.
    pub fn images(&self) -> &[ImageRef] {
        &self.images
    }

    /// The image with this SHA-256 (any case): the conversation's, with its bytes from the
    /// image cache when the conversation carries none, or else one the cache still holds.
    pub fn image(&self, sha256: &str) -> Option<ImageRef> {
        let in_conversation = self
            .images
            .iter()
            .find(|image| image.sha256.eq_ignore_ascii_case(sha256));
        match in_conversation {
            Some(image) if image.data.is_some() => Some(image.clone()),
            Some(image) => Some(
                self.image_cache
                    .get(sha256)
                    .unwrap_or_else(|| image.clone()),
            ),
            None => self.image_cache.get(sha256),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_found_by_hash_in_any_case() {
        let image = ImageRef::from_bytes(vec![1, 2, 3], "image/png");
        let ctx = ToolContext::new("c").with_images(Arc::new(vec![image.clone()]));
        assert_eq!(ctx.images().len(), 1);
        assert_eq!(ctx.image(&image.sha256.to_uppercase()), Some(image));
        assert!(ctx.image("0").is_none());
        assert!(ToolContext::new("c").images().is_empty());
    }

    #[test]
    fn images_the_conversation_lacks_or_holds_without_bytes_come_from_the_cache() {
        let cache = ImageCache::new();
        let earlier = ImageRef::from_bytes(vec![4, 5], "image/png");
        let current = ImageRef::from_bytes(vec![6, 7], "image/png");
        cache.insert(&earlier);
        cache.insert(&current);
        let mut without_bytes = current.clone();
        without_bytes.data = None;
        let ctx = ToolContext::new("c")
            .with_images(Arc::new(vec![without_bytes]))
            .with_image_cache(cache);
        assert_eq!(ctx.image(&earlier.sha256), Some(earlier));
        assert_eq!(ctx.image(&current.sha256).unwrap().data, current.data);
        assert_eq!(
            ctx.images().len(),
            1,
            "the conversation's list is unchanged"
        );
    }
}
