//! [`ImageCache`]: the images a process is working with, by SHA-256, with the forms derived
//! from them (a model's decoded pixels), in one bounded place.

use std::any::{Any, TypeId};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::message::ImageRef;

/// Images kept at most, by default.
pub const DEFAULT_MAX_CACHED_IMAGES: usize = 32;
/// Bytes kept at most (encoded bytes and derived forms together), by default.
pub const DEFAULT_MAX_CACHED_BYTES: usize = 256 * 1024 * 1024;

/// Images by SHA-256, shared by an agent, its tools and its model: the agent puts in every
/// image of the conversation, tools find them by hash ([`ToolContext::image`]), and a model
/// keeps what it derived from an image (decoded, resized pixels) beside it, so nothing is
/// decoded twice.
///
/// Bounded by a number of images and a number of bytes; the least recently used image goes
/// first, with everything derived from it. Cheap to clone: clones share the entries.
///
/// ```
/// use argus_core::{ImageCache, ImageRef};
///
/// let cache = ImageCache::new();
/// let image = ImageRef::from_bytes(vec![1, 2, 3], "image/png");
/// cache.insert(&image);
/// assert_eq!(cache.get(&image.sha256).unwrap().data, image.data);
///
/// cache.insert_derived(&image.sha256, std::sync::Arc::new(String::from("pixels")), 6);
/// assert_eq!(cache.derived::<String>(&image.sha256).unwrap().as_str(), "pixels");
/// ```
///
/// [`ToolContext::image`]: crate::ToolContext::image
#[derive(Clone)]
pub struct ImageCache {
    entries: Arc<Mutex<Entries>>,
}

impl Default for ImageCache {
    fn default() -> Self {
        ImageCache::with_limits(DEFAULT_MAX_CACHED_IMAGES, DEFAULT_MAX_CACHED_BYTES)
    }
}

impl std::fmt::Debug for ImageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries = self.lock();
        f.debug_struct("ImageCache")
            .field("images", &entries.order.len())
            .field("bytes", &entries.bytes)
            .field("max_images", &entries.max_images)
            .field("max_bytes", &entries.max_bytes)
            .finish()
    }
}

impl ImageCache {
    /// A cache with the default limits ([`DEFAULT_MAX_CACHED_IMAGES`],
    /// [`DEFAULT_MAX_CACHED_BYTES`]).
    pub fn new() -> Self {
        ImageCache::default()
    }

    /// A cache keeping at most `max_images` images and `max_bytes` bytes. The most recent
    /// image is kept even when it alone exceeds `max_bytes`.
    pub fn with_limits(max_images: usize, max_bytes: usize) -> Self {
        ImageCache {
            entries: Arc::new(Mutex::new(Entries {
                max_images: max_images.max(1),
                max_bytes,
                ..Entries::default()
            })),
        }
    }

    /// Keeps `image` (a reference without bytes is ignored: there is nothing to serve).
    pub fn insert(&self, image: &ImageRef) {
        let Some(data) = &image.data else {
            return;
        };
        let mut entries = self.lock();
        let key = image.sha256.to_ascii_lowercase();
        let entry = entries.entry(key);
        if entry.image.is_none() {
            entry.bytes += data.len();
            entry.image = Some(image.clone());
            entries.bytes += data.len();
            entries.evict();
        }
    }

    /// The image with this SHA-256 (any case), with its bytes.
    pub fn get(&self, sha256: &str) -> Option<ImageRef> {
        let mut entries = self.lock();
        let key = sha256.to_ascii_lowercase();
        let image = entries.map.get(&key)?.image.clone()?;
        entries.touch(&key);
        Some(image)
    }

    /// Keeps `value`, derived from the image with this SHA-256, in place of an earlier value
    /// of the same type; `size` is its weight in bytes against the cache's limit.
    pub fn insert_derived<T: Any + Send + Sync>(&self, sha256: &str, value: Arc<T>, size: usize) {
        let mut entries = self.lock();
        let key = sha256.to_ascii_lowercase();
        let entry = entries.entry(key);
        let type_id = TypeId::of::<T>();
        let mut freed = 0;
        entry.derived.retain(|derived| {
            let keep = derived.type_id != type_id;
            if !keep {
                freed += derived.size;
            }
            keep
        });
        entry.derived.push(Derived {
            type_id,
            value,
            size,
        });
        entry.bytes = entry.bytes - freed + size;
        entries.bytes = entries.bytes - freed + size;
        entries.evict();
    }

    /// The value of type `T` derived from the image with this SHA-256, if one is kept.
    pub fn derived<T: Any + Send + Sync>(&self, sha256: &str) -> Option<Arc<T>> {
        let mut entries = self.lock();
        let key = sha256.to_ascii_lowercase();
        let value = entries
            .map
            .get(&key)?
            .derived
            .iter()
            .find(|derived| derived.type_id == TypeId::of::<T>())
            .map(|derived| Arc::clone(&derived.value))?;
        entries.touch(&key);
        value.downcast().ok()
    }

    /// How many images are kept (with bytes, derived forms, or both).
    pub fn len(&self) -> usize {
        self.lock().order.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes kept: encoded images and derived forms.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A value derived from an image, with its weight.
struct Derived {
    type_id: TypeId,
    value: Arc<dyn Any + Send + Sync>,
    size: usize,
}

/// What is kept for one image.
#[derive(Default)]
struct Entry {
    image: Option<ImageRef>,
    derived: Vec<Derived>,
    /// Encoded bytes plus the sizes of the derived values.
    bytes: usize,
}

/// The entries, least recently used first in `order`.
#[derive(Default)]
struct Entries {
    order: VecDeque<String>,
    map: HashMap<String, Entry>,
    bytes: usize,
    max_images: usize,
    max_bytes: usize,
}

impl Entries {
    /// The entry for `key`, created if new, marked most recently used.
    fn entry(&mut self, key: String) -> &mut Entry {
        if self.map.contains_key(&key) {
            self.touch(&key);
        } else {
            self.order.push_back(key.clone());
        }
        self.map.entry(key).or_default()
    }

    fn touch(&mut self, key: &str) {
        if let Some(index) = self.order.iter().position(|known| known == key) {
            if let Some(key) = self.order.remove(index) {
                self.order.push_back(key);
            }
        }
    }

    /// Drops the least recently used entries until the limits hold (keeping the newest).
    fn evict(&mut self) {
        while self.order.len() > 1
            && (self.order.len() > self.max_images || self.bytes > self.max_bytes)
        {
            if let Some(oldest) = self.order.pop_front() {
                if let Some(evicted) = self.map.remove(&oldest) {
                    self.bytes -= evicted.bytes;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(byte: u8, len: usize) -> ImageRef {
        ImageRef::from_bytes(vec![byte; len], "image/png")
    }

    #[test]
    fn images_are_found_by_hash_in_any_case_and_references_without_bytes_are_ignored() {
        let cache = ImageCache::new();
        let with_bytes = image(1, 3);
        cache.insert(&with_bytes);
        let found = cache.get(&with_bytes.sha256.to_uppercase()).unwrap();
        assert_eq!(found.data, with_bytes.data);
        let mut without_bytes = image(2, 3);
        without_bytes.data = None;
        cache.insert(&without_bytes);
        assert!(cache.get(&without_bytes.sha256).is_none());
        assert_eq!((cache.len(), cache.bytes()), (1, 3));
    }

    #[test]
    fn the_least_recently_used_image_goes_first_with_its_derived_forms() {
        let cache = ImageCache::with_limits(2, usize::MAX);
        let (a, b, c) = (image(1, 4), image(2, 4), image(3, 4));
        cache.insert(&a);
        cache.insert(&b);
        cache.insert_derived(&a.sha256, Arc::new(7_u32), 10);
        assert!(cache.get(&a.sha256).is_some(), "a is now the most recent");
        cache.insert(&c);
        assert!(cache.get(&b.sha256).is_none(), "b was the least recent");
        assert_eq!(*cache.derived::<u32>(&a.sha256).unwrap(), 7);
        assert_eq!(cache.bytes(), 4 + 10 + 4);
    }

    #[test]
    fn the_byte_limit_evicts_but_keeps_the_newest_image() {
        let cache = ImageCache::with_limits(10, 10);
        let (a, b) = (image(1, 6), image(2, 6));
        cache.insert(&a);
        cache.insert(&b);
        assert!(cache.get(&a.sha256).is_none());
        assert!(cache.get(&b.sha256).is_some());
        let huge = image(3, 100);
        cache.insert(&huge);
        assert_eq!((cache.len(), cache.bytes()), (1, 100));
    }

    #[test]
    fn a_derived_value_replaces_the_one_of_its_type_and_keeps_others() {
        let cache = ImageCache::new();
        let a = image(1, 2);
        cache.insert(&a);
        cache.insert_derived(&a.sha256, Arc::new(1_u32), 5);
        cache.insert_derived(&a.sha256, Arc::new(String::from("x")), 1);
        cache.insert_derived(&a.sha256, Arc::new(2_u32), 7);
        assert_eq!(*cache.derived::<u32>(&a.sha256).unwrap(), 2);
        assert_eq!(cache.derived::<String>(&a.sha256).unwrap().as_str(), "x");
        assert!(cache.derived::<u64>(&a.sha256).is_none());
        assert_eq!(cache.bytes(), 2 + 1 + 7);
    }

    #[test]
    fn clones_share_their_entries() {
        let cache = ImageCache::new();
        let a = image(1, 2);
        cache.clone().insert(&a);
        assert!(cache.get(&a.sha256).is_some());
    }
}
