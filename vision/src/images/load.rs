//! The loader: bytes from any source → checked, decoded, oriented, downscaled image.

use std::sync::Arc;

use argus_core::ImageRef;
use argus_ingest::{GuardedFetcher, ImageInfo, ImageLimits, ImageLoadError, ImageSource};
use image::DynamicImage;

use super::resize::{fit_within, to_model_rgb, ResizeFilter};

/// A loaded image: the conversation reference plus the pixels the model sees.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    /// The reference for messages: SHA-256 of the original encoded bytes, the detected media
    /// type, the displayed (EXIF-oriented) dimensions of the original, and the bytes.
    pub reference: ImageRef,
    /// The decoded image, EXIF-oriented, 8-bit RGB, downscaled to the loader's maximum edge.
    pub image: DynamicImage,
}

/// Loads images from files, URLs, bytes and base64 within [`ImageLimits`], for a model with
/// a maximum image edge.
///
/// Every input goes through the same steps: read the encoded bytes (refusing oversize input
/// before reading it in full; URLs through a [`GuardedFetcher`]), then
/// [`argus_ingest::decode`]: detect the format from magic bytes, check the container for
/// truncation, read the dimensions from the header and refuse too many pixels, decode (with
/// `image::Limits` as a second guard), apply the EXIF orientation; then convert to RGB and
/// downscale with a Lanczos3 (default) SIMD filter.
///
/// ```
/// use argus_vision::{ImageLoader, ImageLoadError};
///
/// let loader = ImageLoader::new().with_max_edge(1120);
/// let mut png = Vec::new();
/// image::DynamicImage::new_rgb8(3000, 1500)
///     .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
///     .unwrap();
/// let loaded = loader.load_bytes(png).unwrap();
/// assert_eq!(loaded.reference.media_type, "image/png");
/// assert_eq!((loaded.reference.width, loaded.reference.height), (Some(3000), Some(1500)));
/// assert_eq!((loaded.image.width(), loaded.image.height()), (1120, 560));
///
/// assert!(matches!(loader.load_bytes(Vec::new()), Err(ImageLoadError::Empty)));
/// ```
#[derive(Debug, Clone)]
pub struct ImageLoader {
    limits: ImageLimits,
    max_edge: Option<u32>,
    filter: ResizeFilter,
    fetcher: GuardedFetcher,
}

impl Default for ImageLoader {
    fn default() -> Self {
        ImageLoader::new()
    }
}

impl ImageLoader {
    /// A loader with default limits that does not downscale, and fetches URLs with
    /// [`GuardedFetcher::unguarded`] (any address, through system proxies).
    pub fn new() -> Self {
        ImageLoader {
            limits: ImageLimits::default(),
            max_edge: None,
            filter: ResizeFilter::default(),
            fetcher: GuardedFetcher::unguarded(),
        }
    }

    /// Sets the limits.
    pub fn with_limits(mut self, limits: ImageLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Fetches URLs with `fetcher`: its address policy, timeouts and redirect limit. Use a
    /// [`NetworkGuard`](crate::NetworkGuard) when URLs come from people or models you do not
    /// trust:
    ///
    /// ```
    /// use argus_vision::{GuardedFetcher, ImageLoader, NetworkGuard};
    ///
    /// let loader = ImageLoader::new().with_fetcher(GuardedFetcher::new(NetworkGuard::new()));
    /// ```
    pub fn with_fetcher(mut self, fetcher: GuardedFetcher) -> Self {
        self.fetcher = fetcher;
        self
    }

    /// Downscales images so their longer edge is at most `max_edge` pixels (never upscales).
    pub fn with_max_edge(mut self, max_edge: u32) -> Self {
        self.max_edge = Some(max_edge);
        self
    }

    /// Sets the downscaling filter (default [`ResizeFilter::Lanczos3`]).
    pub fn with_filter(mut self, filter: ResizeFilter) -> Self {
        self.filter = filter;
        self
    }

    /// Checks every address a URL, and each redirect target, resolves to before connecting,
    /// and pins the connection to the checked addresses; a refusal is
    /// [`ImageLoadError::Blocked`]. For the usual policy (no loopback, private, link-local or
    /// metadata addresses) use [`with_fetcher`](Self::with_fetcher) with a
    /// [`NetworkGuard`](crate::NetworkGuard); a check of your own looks like this:
    ///
    /// ```
    /// use argus_vision::ImageLoader;
    ///
    /// let loader = ImageLoader::new().with_address_check(|_host, address| {
    ///     if address.ip().is_loopback() {
    ///         Err("loopback".to_string())
    ///     } else {
    ///         Ok(())
    ///     }
    /// });
    /// ```
    ///
    /// Without a check (the default) any address may be fetched, through system proxies; with
    /// one, proxies are not used (a proxy would connect past the check). The check replaces
    /// the fetcher's address policy and keeps its timeouts.
    pub fn with_address_check(
        mut self,
        check: impl Fn(&str, std::net::SocketAddr) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.fetcher = self.fetcher.with_address_check(check);
        self
    }

    /// The fetcher URLs are loaded with.
    pub fn fetcher(&self) -> &GuardedFetcher {
        &self.fetcher
    }

    /// The limits in force.
    pub fn limits(&self) -> &ImageLimits {
        &self.limits
    }

    /// The maximum edge images are downscaled to, if any.
    pub fn max_edge(&self) -> Option<u32> {
        self.max_edge
    }

    /// Loads an image from any source. Fetching is async; decoding runs on the blocking pool.
    pub async fn load(
        &self,
        source: impl Into<ImageSource>,
    ) -> Result<LoadedImage, ImageLoadError> {
        let bytes = self.read(source.into()).await?;
        let loader = self.clone();
        tokio::task::spawn_blocking(move || loader.decode(bytes.into()))
            .await
            .map_err(|error| ImageLoadError::Corrupt {
                format: "unknown",
                reason: format!("the decoder task failed: {error}"),
                source: None,
            })?
    }

    /// Reads the encoded bytes of a source, within the byte limit, without decoding them.
    pub async fn read(&self, source: ImageSource) -> Result<Vec<u8>, ImageLoadError> {
        source.read(&self.limits, &self.fetcher).await
    }

    /// Loads an image from a source that needs no network (file, bytes, base64), blocking the
    /// calling thread. URLs are refused with [`ImageLoadError::UnsupportedSource`].
    pub fn load_blocking(
        &self,
        source: impl Into<ImageSource>,
    ) -> Result<LoadedImage, ImageLoadError> {
        let bytes = source.into().read_local(&self.limits)?;
        self.decode(bytes.into())
    }

    /// Loads an image from its encoded bytes (blocking; CPU-bound).
    pub fn load_bytes(&self, bytes: impl Into<Arc<[u8]>>) -> Result<LoadedImage, ImageLoadError> {
        self.decode(bytes.into())
    }

    /// Decodes the bytes an [`ImageRef`] carries (blocking). A reference without bytes is
    /// refused with [`ImageLoadError::UnsupportedSource`].
    pub fn load_ref(&self, reference: &ImageRef) -> Result<LoadedImage, ImageLoadError> {
        match &reference.data {
            Some(bytes) => self.decode(bytes.clone()),
            None => Err(ImageLoadError::UnsupportedSource(format!(
                "image {} carries no bytes",
                reference.sha256
            ))),
        }
    }

    /// Reads format and dimensions from the header only, applying the byte limit.
    pub fn probe(&self, bytes: &[u8]) -> Result<ImageInfo, ImageLoadError> {
        argus_ingest::probe(bytes, &self.limits)
    }

    fn decode(&self, bytes: Arc<[u8]>) -> Result<LoadedImage, ImageLoadError> {
        let decoded = argus_ingest::decode(&bytes, &self.limits)?;
        let (format, media_type, image) = (decoded.format, decoded.media_type, decoded.image);
        let (shown_w, shown_h) = (image.width(), image.height());
        let image = to_model_rgb(image, self.max_edge, self.filter)?;
        tracing::debug!(
            format,
            width = shown_w,
            height = shown_h,
            model_width = image.width(),
            model_height = image.height(),
            "image decoded"
        );
        Ok(LoadedImage {
            reference: ImageRef::from_bytes(bytes, media_type).with_dimensions(shown_w, shown_h),
            image,
        })
    }

    /// The size an image of `width`×`height` is given to the model.
    pub fn model_size(&self, width: u32, height: u32) -> (u32, u32) {
        match self.max_edge {
            Some(edge) => fit_within(width, height, edge),
            None => (width, height),
        }
    }
}
