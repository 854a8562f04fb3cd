//! Probing and decoding encoded bytes within [`ImageLimits`].

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use super::error::ImageLoadError;
use super::format::{classify, detect, format_name, is_truncated};
use super::limits::ImageLimits;
use super::source::check_size;

/// What an image header says, read without decoding the pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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

/// A decoded image, turned as its EXIF orientation says.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DecodedImage {
    /// Media type detected from the content, e.g. `image/jpeg`.
    pub media_type: &'static str,
    /// Format name detected from the content, e.g. `jpeg`.
    pub format: &'static str,
    /// The pixels, EXIF-oriented, in the decoder's colour type.
    pub image: DynamicImage,
}

/// Reads format and dimensions from the header only, applying the byte limit.
///
/// ```
/// use argus_ingest::{probe, ImageLimits, ImageLoadError};
///
/// let mut png = Vec::new();
/// image::DynamicImage::new_rgb8(30, 20)
///     .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
///     .unwrap();
/// let info = probe(&png, &ImageLimits::default()).unwrap();
/// assert_eq!((info.format, info.width, info.height), ("png", 30, 20));
/// assert!(matches!(probe(b"hello", &ImageLimits::default()), Err(ImageLoadError::UnsupportedFormat { .. })));
/// ```
pub fn probe(bytes: &[u8], limits: &ImageLimits) -> Result<ImageInfo, ImageLoadError> {
    check_size(bytes.len() as u64, limits.max_encoded_bytes)?;
    let format = detect(bytes)?;
    let (width, height) = decoder(format, bytes, limits)?.dimensions();
    Ok(ImageInfo {
        media_type: format.to_mime_type(),
        format: format_name(format),
        width,
        height,
    })
}

/// Decodes encoded bytes, cheapest check first: the byte limit, the format from the magic
/// bytes (never a name or a declared type), the container's truncation check, the pixel
/// count from the header (before any pixel buffer exists), then decoding under
/// `image::Limits` as a second guard, and the EXIF orientation.
///
/// ```
/// use argus_ingest::{decode, ImageLimits, ImageLoadError};
///
/// let mut png = Vec::new();
/// image::DynamicImage::new_rgb8(30, 20)
///     .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
///     .unwrap();
/// let decoded = decode(&png, &ImageLimits::default()).unwrap();
/// assert_eq!((decoded.media_type, decoded.image.width()), ("image/png", 30));
/// let small = ImageLimits::default().with_max_pixels(100);
/// assert!(matches!(decode(&png, &small), Err(ImageLoadError::TooManyPixels { .. })));
/// assert!(matches!(decode(&png[..png.len() / 2], &ImageLimits::default()), Err(ImageLoadError::Truncated { .. })));
/// ```
pub fn decode(bytes: &[u8], limits: &ImageLimits) -> Result<DecodedImage, ImageLoadError> {
    let max_pixels = limits.max_pixels;
    check_size(bytes.len() as u64, limits.max_encoded_bytes)?;
    let format = detect(bytes)?;
    if is_truncated(format, bytes) {
        return Err(ImageLoadError::Truncated {
            format: format_name(format),
        });
    }
    let mut decoder = decoder(format, bytes, limits)?;
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
    Ok(DecodedImage {
        media_type: format.to_mime_type(),
        format: format_name(format),
        image,
    })
}

fn decoder<'a>(
    format: ImageFormat,
    bytes: &'a [u8],
    limits: &ImageLimits,
) -> Result<impl ImageDecoder + 'a, ImageLoadError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits.decoder_limits());
    reader
        .into_decoder()
        .map_err(|error| classify(format, None, limits.max_pixels, error))
}
