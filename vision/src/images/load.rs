//! The loader: bytes from any source → checked, decoded, oriented, downscaled image.

use std::io::Cursor;
use std::sync::{Arc, OnceLock};

use argus_core::ImageRef;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use super::error::ImageLoadError;
use super::fetch::{self, AddressCheck};
use super::format::{classify, detect, format_name, is_truncated};
use super::limits::ImageLimits;
use super::resize::{fit_within, to_model_rgb, ResizeFilter};
use super::source::{check_size, decode_base64, read_file, ImageSource};

/// What an image header says, read without decoding the pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    /// Media type detected from the content, e.g. `image/jpeg`.
    pub media_type: &'static str,
    /// Format name detected from the content, e.g. `jpeg`.
    pub format: &'static str,
    /// Stored width (before EXIF orientation).
    pub width: u32,
    /// Stored height (before EXIF orientation).
    pub height: u32,
}

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
/// before reading it in full), detect the format from magic bytes, check the container for
/// truncation, read the dimensions from the header and refuse too many pixels, decode (with
/// `image::Limits` as a second guard), apply the EXIF orientation, convert to RGB and
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
    client: Arc<OnceLock<reqwest::Client>>,
    address_check: Option<AddressCheck>,
}

impl Default for ImageLoader {
    fn default() -> Self {
        ImageLoader::new()
    }
}

impl ImageLoader {
    /// A loader with default limits that does not downscale.
    pub fn new() -> Self {
        ImageLoader {
            limits: ImageLimits::default(),
            max_edge: None,
            filter: ResizeFilter::default(),
            client: Arc::new(OnceLock::new()),
            address_check: None,
        }
    }

    /// Sets the limits.
    pub fn with_limits(mut self, limits: ImageLimits) -> Self {
        self.limits = limits;
        self.client = Arc::new(OnceLock::new());
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
    /// [`ImageLoadError::Blocked`]. Use it when URLs come from people or models you do not
    /// trust, e.g. with `argus_tools::NetworkGuard` to refuse loopback, private, link-local
    /// and metadata addresses:
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
    /// Without a check (the default) any address may be fetched, through system proxies, and
    /// redirects are followed by the HTTP client (10 at most); with one, proxies are not used
    /// (a proxy would connect past the check) and 5 redirects are followed.
    pub fn with_address_check(
        mut self,
        check: impl Fn(&str, std::net::SocketAddr) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.address_check = Some(AddressCheck::new(check));
        self
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
        let limit = self.limits.max_encoded_bytes;
        match source {
            ImageSource::Url(url) => match &self.address_check {
                Some(check) => fetch::fetch_checked(&url, &self.limits, check).await,
                None => fetch::fetch(self.client()?, &url, &self.limits).await,
            },
            ImageSource::Path(path) => tokio::task::spawn_blocking(move || read_file(&path, limit))
                .await
                .map_err(|error| ImageLoadError::UnsupportedSource(error.to_string()))?,
            other => self.read_local(other),
        }
    }

    /// Loads an image from a source that needs no network (file, bytes, base64), blocking the
    /// calling thread. URLs are refused with [`ImageLoadError::UnsupportedSource`].
    pub fn load_blocking(
        &self,
        source: impl Into<ImageSource>,
    ) -> Result<LoadedImage, ImageLoadError> {
        let bytes = self.read_local(source.into())?;
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
        check_size(bytes.len() as u64, self.limits.max_encoded_bytes)?;
        let format = detect(bytes)?;
        let decoder = self.decoder(format, bytes)?;
        let (width, height) = decoder.dimensions();
        Ok(ImageInfo {
            media_type: format.to_mime_type(),
            format: format_name(format),
            width,
            height,
        })
    }

    fn client(&self) -> Result<&reqwest::Client, ImageLoadError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = fetch::client(&self.limits)?;
        Ok(self.client.get_or_init(|| client))
    }

    fn read_local(&self, source: ImageSource) -> Result<Vec<u8>, ImageLoadError> {
        let limit = self.limits.max_encoded_bytes;
        match source {
            ImageSource::Path(path) => read_file(&path, limit),
            ImageSource::Bytes(bytes) => {
                check_size(bytes.len() as u64, limit)?;
                Ok(bytes.to_vec())
            }
            ImageSource::Base64(text) => decode_base64(&text, limit),
            ImageSource::Url(url) => Err(ImageLoadError::UnsupportedSource(format!(
                "{url} must be fetched with the async `load`"
            ))),
        }
    }

    fn decoder<'a>(
        &self,
        format: ImageFormat,
        bytes: &'a [u8],
    ) -> Result<impl ImageDecoder + 'a, ImageLoadError> {
        let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
        reader.limits(self.limits.decoder_limits());
        reader
            .into_decoder()
            .map_err(|error| classify(format, None, self.limits.max_pixels, error))
    }

    fn decode(&self, bytes: Arc<[u8]>) -> Result<LoadedImage, ImageLoadError> {
        let max_pixels = self.limits.max_pixels;
        check_size(bytes.len() as u64, self.limits.max_encoded_bytes)?;
        let format = detect(&bytes)?;
        if is_truncated(format, &bytes) {
            return Err(ImageLoadError::Truncated {
                format: format_name(format),
            });
        }
        let mut decoder = self.decoder(format, &bytes)?;
        let (width, height) = decoder.dimensions();
        if width == 0 || height == 0 {
            return Err(ImageLoadError::Corrupt {
                format: format_name(format),
                reason: format!("the header declares a {width}x{height} image"),
                source: None,
            });
        }
        if u64::from(width) * u64::from(height) > max_pixels {
            return Err(ImageLoadError::TooManyPixels {
                width,
                height,
                limit: max_pixels,
            });
        }
        let classify = |error| classify(format, Some((width, height)), max_pixels, error);
        // A broken EXIF block must not make a readable picture unreadable.
        let orientation = decoder
            .orientation()
            .unwrap_or(image::metadata::Orientation::NoTransforms);
        let mut image = DynamicImage::from_decoder(decoder).map_err(classify)?;
        image.apply_orientation(orientation);
        let (shown_w, shown_h) = (image.width(), image.height());
        let image = to_model_rgb(image, self.max_edge, self.filter)?;
        tracing::debug!(
            format = format_name(format),
            width = shown_w,
            height = shown_h,
            model_width = image.width(),
            model_height = image.height(),
            "image decoded"
        );
        Ok(LoadedImage {
            reference: ImageRef::from_bytes(bytes, format.to_mime_type())
                .with_dimensions(shown_w, shown_h),
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
