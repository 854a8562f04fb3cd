//! Limits that keep hostile or accidental inputs cheap to refuse.

/// Limits applied to every image before it is decoded.
///
/// The encoded size is checked before the bytes are read in full (file size, `Content-Length`,
/// streamed byte count, base64 length); the pixel count is read from the image header and
/// checked before any pixel buffer is allocated, so a decompression bomb (a small file that
/// claims 30000×30000 pixels) is refused cheaply. How long fetching a URL may take is the
/// [`GuardedFetcher`](crate::GuardedFetcher)'s business.
///
/// ```
/// use argus_ingest::ImageLimits;
///
/// let limits = ImageLimits::default()
///     .with_max_encoded_bytes(5 << 20)
///     .with_max_pixels(12_000_000);
/// assert_eq!(limits.max_encoded_bytes, 5 << 20);
/// assert_eq!(ImageLimits::default().max_pixels, 40_000_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImageLimits {
    /// Maximum size of the encoded image in bytes. Default 20 MiB.
    pub max_encoded_bytes: u64,
    /// Maximum decoded width × height. Default 40 megapixels.
    pub max_pixels: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        ImageLimits {
            max_encoded_bytes: 20 << 20,
            max_pixels: 40_000_000,
        }
    }
}

impl ImageLimits {
    /// Sets the maximum encoded size in bytes.
    pub fn with_max_encoded_bytes(mut self, bytes: u64) -> Self {
        self.max_encoded_bytes = bytes;
        self
    }

    /// Sets the maximum decoded pixel count.
    pub fn with_max_pixels(mut self, pixels: u64) -> Self {
        self.max_pixels = pixels;
        self
    }

    /// The `image` crate limits matching these: room for the largest allowed image at 16 bits
    /// per channel with alpha, plus decoder overhead.
    pub(crate) fn decoder_limits(&self) -> image::Limits {
        let mut limits = image::Limits::no_limits();
        limits.max_alloc = Some(self.max_pixels.saturating_mul(8).saturating_add(64 << 20));
        limits
    }
}
