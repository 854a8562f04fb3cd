//! Decoded images: the pixels of a request's images, kept in the model's image cache by hash
//! so a conversation's images are decoded once, not every turn.

use std::collections::HashMap;
use std::sync::Arc;

use argus_core::{ChatRequest, ImageRef, ModelError};
use image::DynamicImage;

use super::{stream, MistralRsModel};

/// An image decoded and resized for the model, kept in the
/// [`ImageCache`](argus_core::ImageCache) beside its bytes (a conversation resends its images
/// every turn).
struct Pixels {
    /// The longest edge it was resized for.
    max_edge: Option<u32>,
    image: DynamicImage,
}

impl Pixels {
    /// Bytes the pixels take, for the cache's limit.
    fn size(&self) -> usize {
        self.image.as_bytes().len()
    }
}

impl MistralRsModel {
    /// Decodes the request's images (cached by hash across turns, in the image cache).
    pub(super) async fn decode_images(
        &self,
        request: &ChatRequest,
    ) -> Result<HashMap<String, DynamicImage>, ModelError> {
        let mut decoded = HashMap::new();
        let mut missing: Vec<ImageRef> = Vec::new();
        for image in request.messages.iter().flat_map(|m| m.images()) {
            let seen = decoded.contains_key(&image.sha256)
                || missing.iter().any(|known| known.sha256 == image.sha256);
            if seen {
                continue;
            }
            if !self.accepts_images() {
                return Err(ModelError::InvalidRequest(format!(
                    "{} is a text model and cannot take images",
                    self.inner.name
                )));
            }
            let max_edge = self.inner.loader.max_edge();
            let cached = self
                .inner
                .images
                .derived::<Pixels>(&image.sha256)
                .filter(|pixels| pixels.max_edge == max_edge);
            match cached {
                Some(pixels) => {
                    decoded.insert(image.sha256.clone(), pixels.image.clone());
                }
                None => missing.push(self.with_bytes(image)),
            }
        }
        if missing.is_empty() {
            return Ok(decoded);
        }
        let loader = self.inner.loader.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            missing
                .iter()
                .map(|image| {
                    loader
                        .load_ref(image)
                        .map(|l| (image.sha256.clone(), l.image))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| stream::backend("image decoding failed", e))?
        .map_err(|e| ModelError::InvalidRequest(format!("image: {e}")))?;
        let max_edge = self.inner.loader.max_edge();
        for (sha256, image) in &loaded {
            let pixels = Pixels {
                max_edge,
                image: image.clone(),
            };
            let size = pixels.size();
            self.inner
                .images
                .insert_derived(sha256, Arc::new(pixels), size);
        }
        decoded.extend(loaded);
        Ok(decoded)
    }

    /// `image` with its bytes from the image cache when the request carries none.
    fn with_bytes(&self, image: &ImageRef) -> ImageRef {
        match image.data {
            Some(_) => image.clone(),
            None => self
                .inner
                .images
                .get(&image.sha256)
                .unwrap_or_else(|| image.clone()),
        }
    }
}
