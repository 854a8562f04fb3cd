//! Downscaling to a model's maximum edge with SIMD convolution (`fast_image_resize`).

use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, RgbImage};

use argus_ingest::ImageLoadError;

/// The resampling filter used when an image is downscaled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResizeFilter {
    /// Lanczos with a = 3: the sharpest, and the filter Pillow calls `LANCZOS`.
    #[default]
    Lanczos3,
    /// Catmull-Rom bicubic: nearly as sharp and a little faster (Pillow's `BICUBIC`).
    CatmullRom,
    /// Bilinear (Pillow's `BILINEAR`).
    Bilinear,
    /// Nearest neighbour: fastest, aliased.
    Nearest,
}

impl ResizeFilter {
    /// The filter's name as printed in benchmarks and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ResizeFilter::Lanczos3 => "lanczos3",
            ResizeFilter::CatmullRom => "catmull-rom",
            ResizeFilter::Bilinear => "bilinear",
            ResizeFilter::Nearest => "nearest",
        }
    }

    fn algorithm(self) -> ResizeAlg {
        match self {
            ResizeFilter::Lanczos3 => ResizeAlg::Convolution(FilterType::Lanczos3),
            ResizeFilter::CatmullRom => ResizeAlg::Convolution(FilterType::CatmullRom),
            ResizeFilter::Bilinear => ResizeAlg::Convolution(FilterType::Bilinear),
            ResizeFilter::Nearest => ResizeAlg::Nearest,
        }
    }
}

/// The size of a `width`×`height` image scaled down (never up) so that its longer edge is at
/// most `max_edge`, keeping the aspect ratio. Each side is at least one pixel.
pub fn fit_within(width: u32, height: u32, max_edge: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= max_edge || max_edge == 0 {
        return (width, height);
    }
    let scale = f64::from(max_edge) / f64::from(longest);
    let scaled = |side: u32| ((f64::from(side) * scale).round() as u32).clamp(1, max_edge);
    (scaled(width), scaled(height))
}

/// Converts `image` to 8-bit RGB and, when `max_edge` is given, downscales it so its longer
/// edge is at most `max_edge` pixels (never upscaling), with `filter`.
///
/// This is the last step of [`ImageLoader`](crate::ImageLoader); use it directly for an image
/// that is already decoded.
///
/// ```
/// use argus_vision::{to_model_rgb, ResizeFilter};
///
/// let image = image::DynamicImage::new_rgba8(4000, 3000);
/// let out = to_model_rgb(image, Some(1120), ResizeFilter::Lanczos3).unwrap();
/// assert_eq!((out.width(), out.height()), (1120, 840));
/// assert!(out.as_rgb8().is_some());
/// ```
pub fn to_model_rgb(
    image: DynamicImage,
    max_edge: Option<u32>,
    filter: ResizeFilter,
) -> Result<DynamicImage, ImageLoadError> {
    let rgb = match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    };
    let (width, height) = rgb.dimensions();
    let (target_w, target_h) = match max_edge {
        Some(edge) => fit_within(width, height, edge),
        None => (width, height),
    };
    if (target_w, target_h) == (width, height) {
        return Ok(DynamicImage::ImageRgb8(rgb));
    }
    let source = DynamicImage::ImageRgb8(rgb);
    let mut target = DynamicImage::ImageRgb8(RgbImage::new(target_w, target_h));
    debug_assert_eq!(
        fast_image_resize::IntoImageView::pixel_type(&source),
        Some(PixelType::U8x3)
    );
    Resizer::new()
        .resize(
            &source,
            &mut target,
            &ResizeOptions::new().resize_alg(filter.algorithm()),
        )
        .map_err(|error| ImageLoadError::Corrupt {
            format: "rgb8",
            reason: format!("resizing failed: {error}"),
            source: Some(Box::new(error)),
        })?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_within_keeps_aspect_and_never_upscales() {
        assert_eq!(fit_within(4000, 3000, 1120), (1120, 840));
        assert_eq!(fit_within(3000, 4000, 1120), (840, 1120));
        assert_eq!(fit_within(800, 600, 1120), (800, 600));
        assert_eq!(fit_within(100_000, 1, 1120), (1120, 1));
    }

    #[test]
    fn downscales_to_rgb8() {
        let image = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            400,
            200,
            image::Rgba([10, 200, 30, 255]),
        ));
        let out = to_model_rgb(image, Some(100), ResizeFilter::Lanczos3).unwrap();
        assert_eq!((out.width(), out.height()), (100, 50));
        let pixel = out.as_rgb8().unwrap().get_pixel(50, 25).0;
        assert_eq!(pixel, [10, 200, 30]);
    }
}
