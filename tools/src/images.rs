//! `image`: show an image (file, URL, or one seen before) to the vision model, or zoom into a
//! region of it.

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use argus_core::{ImageRef, Tool, ToolContext, ToolPolicy};
use argus_ingest::{GuardedFetcher, ImageLimits};
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::blocking;
use crate::{Error, Sandbox};

/// Arguments of [`ImageTool`].
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageArgs {
    /// The image: a path in the workspace, an http(s) URL, `#1`, `#2`, ... for the
    /// conversation's images in the order they appeared (the user's first), or the `sha256` of
    /// an image of the conversation (the user's or one this tool showed earlier).
    pub image: String,
    /// Zoom into this part of the image instead of showing all of it.
    #[serde(default)]
    pub region: Option<Region>,
    /// Longest edge of the zoomed image in pixels (default 1024): the region is scaled up or
    /// down to it.
    #[serde(default)]
    #[schemars(range(min = 16, max = 2048))]
    pub max_edge: Option<u32>,
}

/// A rectangle in fractions of the image's width and height, from the top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Left edge, 0 to 1.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub x: f64,
    /// Top edge, 0 to 1.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub y: f64,
    /// Width, 0 to 1.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub width: f64,
    /// Height, 0 to 1.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub height: f64,
}

/// What the model reads about an image the tool attached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// SHA-256 of the attached image: pass it as `image` to zoom into it later.
    pub sha256: String,
    /// Media type of the attached bytes.
    pub media_type: String,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
    /// Where the image came from.
    pub source: String,
    /// The region shown, when zoomed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
}

/// Brings an image into the conversation so the vision model sees it, and zooms into regions
/// of the conversation's images: the user's and those it showed before, found through the
/// [`ToolContext`] (the agent's [`ImageCache`](argus_core::ImageCache)) by number or SHA-256.
///
/// Paths are read inside a [`Sandbox`] (none by default: paths are refused), URLs through a
/// [`GuardedFetcher`] (the default guard by default), within [`ImageLimits`]. The image is
/// decoded with every check of [`argus_ingest::decode`] (format from the content, truncation,
/// pixel count before decoding, EXIF orientation); PNG, JPEG, GIF and WebP are attached as they
/// are, other formats re-encoded as PNG.
///
/// ```
/// use argus_tools::{ImageTool, Sandbox, ToolRegistry};
///
/// let dir = tempfile::tempdir().unwrap();
/// let images = ImageTool::new().with_sandbox(Sandbox::new(dir.path()).unwrap());
/// let mut tools = ToolRegistry::new();
/// tools.register(images).unwrap();
/// assert_eq!(tools.specs()[0].name, "image");
/// ```
#[derive(Debug, Clone, Default)]
pub struct ImageTool {
    sandbox: Option<Sandbox>,
    fetcher: Option<GuardedFetcher>,
    limits: ImageLimits,
    no_urls: bool,
}

impl ImageTool {
    /// A tool that loads URLs through the default guard and refuses paths.
    pub fn new() -> Self {
        ImageTool::default()
    }

    /// Loads paths from `sandbox`.
    pub fn with_sandbox(mut self, sandbox: Sandbox) -> Self {
        self.sandbox = Some(sandbox);
        self
    }

    /// Loads URLs through `fetcher`.
    pub fn with_fetcher(mut self, fetcher: GuardedFetcher) -> Self {
        self.fetcher = Some(fetcher);
        self.no_urls = false;
        self
    }

    /// Refuses URLs.
    pub fn without_urls(mut self) -> Self {
        self.fetcher = None;
        self.no_urls = true;
        self
    }

    /// Sets the size limits.
    pub fn with_limits(mut self, limits: ImageLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Shows or zooms as [`call`](Tool::call) does, attaching the result to `ctx`.
    pub async fn show(&self, args: ImageArgs, ctx: &ToolContext) -> Result<ImageInfo, Error> {
        let (bytes, source) = self.load(&args.image, ctx).await?;
        let limits = self.limits;
        let region = args.region;
        let max_edge = args.max_edge.unwrap_or(1024).clamp(16, 2048);
        let prepared = blocking(move || prepare(&bytes, limits, region, max_edge)).await?;
        let image = ImageRef::from_bytes(Arc::clone(&prepared.bytes), prepared.media_type)
            .with_dimensions(prepared.width, prepared.height);
        let info = ImageInfo {
            sha256: image.sha256.clone(),
            media_type: image.media_type.clone(),
            width: prepared.width,
            height: prepared.height,
            source,
            region,
        };
        ctx.attach_image(image);
        Ok(info)
    }

    /// The encoded bytes and a description of where they came from.
    async fn load(&self, image: &str, ctx: &ToolContext) -> Result<(Arc<[u8]>, String), Error> {
        let image = image.trim();
        let max = self.limits.max_encoded_bytes;
        let max_bytes = usize::try_from(max).unwrap_or(usize::MAX);
        let too_large = |actual: String| Error::TooLarge {
            what: format!("the image `{image}`"),
            actual,
            limit: format!("{max} bytes"),
        };
        if let Some(number) = image.strip_prefix('#') {
            let found = number
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|index| ctx.images().get(index));
            let Some(found) = found else {
                return Err(Error::UnknownImage(format!(
                    "`{image}` (it has {} images)",
                    ctx.images().len()
                )));
            };
            let bytes = ctx
                .image(&found.sha256)
                .and_then(|found| found.data)
                .ok_or_else(|| Error::UnknownImage(format!("`{image}` with its bytes")))?;
            return Ok((
                bytes,
                format!("conversation image {image} ({})", found.sha256),
            ));
        }
        if is_sha256(image) {
            let key = image.to_ascii_lowercase();
            let bytes = ctx
                .image(&key)
                .and_then(|found| found.data)
                .ok_or_else(|| Error::UnknownImage(format!("with sha256 `{key}`")))?;
            return Ok((bytes, format!("earlier image {key}")));
        }
        let lower = image.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            if self.no_urls {
                return Err(Error::Disabled("URLs"));
            }
            let fetcher = self.fetcher.clone().unwrap_or_default();
            let fetched = fetcher.get_all(image, max).await?;
            return Ok((fetched.body.into(), fetched.url));
        }
        let Some(sandbox) = self.sandbox.clone() else {
            return Err(Error::Disabled("file paths"));
        };
        let path = image.to_string();
        let (bytes, size, truncated) =
            blocking(move || sandbox.read_capped(&path, max_bytes)).await?;
        if truncated {
            return Err(too_large(format!("{size} bytes")));
        }
        Ok((bytes.into(), image.to_string()))
    }
}

impl Tool for ImageTool {
    const NAME: &'static str = "image";
    type Args = ImageArgs;
    type Output = ImageInfo;
    type Error = Error;

    fn description(&self) -> String {
        "Shows you an image from a file path or URL, or zooms into a region of an image of the \
         conversation (`#1` is the first, or by its sha256) to read small details."
            .into()
    }

    async fn call(&self, args: ImageArgs, ctx: ToolContext) -> Result<ImageInfo, Error> {
        self.show(args, &ctx).await
    }

    fn policy(&self) -> ToolPolicy {
        ToolPolicy::read_only()
            .with_timeout(Duration::from_secs(60))
            .with_max_concurrency(2)
    }
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An image ready to attach.
struct Prepared {
    bytes: Arc<[u8]>,
    media_type: &'static str,
    width: u32,
    height: u32,
}

/// Decodes within the limits, and crops or re-encodes as needed.
fn prepare(
    bytes: &Arc<[u8]>,
    limits: ImageLimits,
    region: Option<Region>,
    max_edge: u32,
) -> Result<Prepared, Error> {
    let decoded = argus_ingest::decode(bytes, &limits)?;
    match region {
        None if matches!(
            decoded.media_type,
            "image/png" | "image/jpeg" | "image/gif" | "image/webp"
        ) =>
        {
            Ok(Prepared {
                bytes: Arc::clone(bytes),
                media_type: decoded.media_type,
                width: decoded.image.width(),
                height: decoded.image.height(),
            })
        }
        None => encode_png(&decoded.image),
        Some(region) => encode_png(&zoom(&decoded.image, region, max_edge)?),
    }
}

/// Crops `region` and scales it so its longest edge is `max_edge`.
fn zoom(image: &DynamicImage, region: Region, max_edge: u32) -> Result<DynamicImage, Error> {
    let valid = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
    if ![region.x, region.y, region.width, region.height]
        .into_iter()
        .all(valid)
        || region.width <= 0.0
        || region.height <= 0.0
        || region.x >= 1.0
        || region.y >= 1.0
    {
        return Err(Error::Image(
            "the region needs x and y in [0, 1) and width and height in (0, 1]".into(),
        ));
    }
    let (width, height) = (f64::from(image.width()), f64::from(image.height()));
    // All values are within [0, width] or [0, height], so the casts cannot truncate.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let pixel = |fraction: f64, size: f64| (fraction * size).floor().clamp(0.0, size) as u32;
    let left = pixel(region.x, width).min(image.width() - 1);
    let top = pixel(region.y, height).min(image.height() - 1);
    let right = pixel((region.x + region.width).min(1.0), width).max(left + 1);
    let bottom = pixel((region.y + region.height).min(1.0), height).max(top + 1);
    let cropped = image.crop_imm(left, top, right - left, bottom - top);
    let longest = cropped.width().max(cropped.height());
    let scale = f64::from(max_edge) / f64::from(longest);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let scaled = |v: u32| ((f64::from(v) * scale).round() as u32).max(1);
    Ok(cropped.resize_exact(
        scaled(cropped.width()),
        scaled(cropped.height()),
        FilterType::Lanczos3,
    ))
}

fn encode_png(image: &DynamicImage) -> Result<Prepared, Error> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .map_err(|error| Error::Image(error.to_string()))?;
    Ok(Prepared {
        bytes: bytes.into(),
        media_type: "image/png",
        width: image.width(),
        height: image.height(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::ImageCache;
    use argus_ingest::testkit::{Reply, TestServer};
    use argus_ingest::{FetchError, ImageLoadError, NetworkGuard};
    use image::{GrayImage, Rgb, RgbImage};

    /// 100x50: red left half, blue right half, a green 10x10 square at (80, 0).
    fn picture() -> RgbImage {
        RgbImage::from_fn(100, 50, |x, y| {
            if (80..90).contains(&x) && y < 10 {
                Rgb([0, 255, 0])
            } else if x < 50 {
                Rgb([255, 0, 0])
            } else {
                Rgb([0, 0, 255])
            }
        })
    }

    fn encoded(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), format)
            .unwrap();
        bytes
    }

    fn sandbox_with(files: &[(&str, Vec<u8>)]) -> (tempfile::TempDir, Sandbox) {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let sandbox = Sandbox::new(dir.path()).unwrap();
        (dir, sandbox)
    }

    fn args(image: &str, region: Option<Region>) -> ImageArgs {
        ImageArgs {
            image: image.into(),
            region,
            max_edge: None,
        }
    }

    fn decode(image: &ImageRef) -> RgbImage {
        image::load_from_memory(image.data.as_deref().unwrap())
            .unwrap()
            .to_rgb8()
    }

    #[tokio::test]
    async fn shows_a_file_and_zooms_into_it() {
        let png = encoded(&picture(), ImageFormat::Png);
        let (_dir, sandbox) = sandbox_with(&[
            ("pic.png", png.clone()),
            ("pic.bmp", encoded(&picture(), ImageFormat::Bmp)),
        ]);
        let tool = ImageTool::new().with_sandbox(sandbox);
        let cache = ImageCache::new();
        let ctx = ToolContext::new("c").with_image_cache(cache.clone());

        let info = tool.show(args("pic.png", None), &ctx).await.unwrap();
        assert_eq!((info.width, info.height), (100, 50));
        assert_eq!(info.media_type, "image/png");
        let attached = ctx.take_attachments();
        // The agent keeps every image of the conversation in its cache.
        cache.insert(&attached[0]);
        assert_eq!(attached.len(), 1);
        assert_eq!(attached[0].data.as_deref(), Some(&png[..]), "sent as it is");
        assert_eq!(attached[0].sha256, info.sha256);
        assert_eq!(
            (attached[0].width, attached[0].height),
            (Some(100), Some(50))
        );

        // Zoom into the green square, by the hash the model was given.
        let square = Region {
            x: 0.8,
            y: 0.0,
            width: 0.1,
            height: 0.2,
        };
        let mut zoom = args(&info.sha256.to_uppercase(), Some(square));
        zoom.max_edge = Some(200);
        let zoomed = tool.show(zoom, &ctx).await.unwrap();
        assert_eq!((zoomed.width, zoomed.height), (200, 200));
        assert_eq!(zoomed.region, Some(square));
        let zoomed_image = ctx.take_attachments().remove(0);
        cache.insert(&zoomed_image);
        let image = decode(&zoomed_image);
        assert_eq!(image.dimensions(), (200, 200));
        assert_eq!(image.get_pixel(100, 100), &Rgb([0, 255, 0]));

        // The zoomed image is part of the conversation too, so it can be zoomed again.
        let half = Region {
            x: 0.0,
            y: 0.0,
            width: 0.5,
            height: 1.0,
        };
        let again = tool
            .show(args(&zoomed.sha256, Some(half)), &ctx)
            .await
            .unwrap();
        assert_eq!((again.width, again.height), (512, 1024));

        // Other formats are re-encoded as PNG.
        let bmp = tool.show(args("pic.bmp", None), &ctx).await.unwrap();
        assert_eq!(bmp.media_type, "image/png");
    }

    #[tokio::test]
    async fn loads_urls_through_the_guard() {
        let png = encoded(&picture(), ImageFormat::Jpeg);
        let server = TestServer::start(move |path| match path {
            "/pic" => Reply::new(200, "application/octet-stream", png.clone()),
            _ => Reply::new(404, "text/plain", "missing"),
        })
        .await
        .unwrap();
        let guard = NetworkGuard::new()
            .allow(&format!("127.0.0.1:{}", server.port()))
            .unwrap();
        let tool = ImageTool::new().with_fetcher(GuardedFetcher::new(guard));
        let ctx = ToolContext::new("c");
        let info = tool
            .show(args(&server.url("/pic"), None), &ctx)
            .await
            .unwrap();
        assert_eq!(info.media_type, "image/jpeg", "detected from the content");
        assert_eq!(info.source, server.url("/pic"));
        assert!(matches!(
            tool.show(args(&server.url("/missing"), None), &ctx).await,
            Err(Error::Fetch(FetchError::Status { status: 404, .. }))
        ));

        let unguarded = ImageTool::new();
        let refused = unguarded.show(args(&server.url("/pic"), None), &ctx).await;
        assert!(
            matches!(refused, Err(Error::Fetch(FetchError::Blocked { .. }))),
            "{refused:?}"
        );
        let no_urls = ImageTool::new().without_urls();
        assert!(matches!(
            no_urls.show(args(&server.url("/pic"), None), &ctx).await,
            Err(Error::Disabled("URLs"))
        ));
        assert_eq!(server.hits(), 2);
    }

    #[tokio::test]
    async fn hostile_inputs() {
        let png = encoded(&picture(), ImageFormat::Png);
        let mut truncated = png.clone();
        truncated.truncate(png.len() / 2);
        // 8000x5001 = 40,008,000 pixels of zeros: a small file that decodes huge.
        let bomb = {
            let mut bytes = Vec::new();
            GrayImage::new(8000, 5001)
                .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
                .unwrap();
            bytes
        };
        assert!(bomb.len() < 1024 * 1024);
        let (_dir, sandbox) = sandbox_with(&[
            ("pic.png", png.clone()),
            ("cut.png", truncated),
            ("bomb.png", bomb),
            ("notes.txt", b"not an image".to_vec()),
        ]);
        let tool = ImageTool::new().with_sandbox(sandbox.clone());
        let ctx = ToolContext::new("c");
        let show = |image: &str, region| tool.show(args(image, region), &ctx);

        assert!(matches!(
            show("bomb.png", None).await,
            Err(Error::ImageLoad(ImageLoadError::TooManyPixels { .. }))
        ));
        assert!(matches!(
            show("cut.png", None).await,
            Err(Error::ImageLoad(ImageLoadError::Truncated { .. }))
        ));
        assert!(matches!(
            show("notes.txt", None).await,
            Err(Error::ImageLoad(ImageLoadError::UnsupportedFormat { .. }))
        ));
        assert!(matches!(
            show("../pic.png", None).await,
            Err(Error::OutsideSandbox(_))
        ));
        assert!(matches!(
            show("/etc/hostname", None).await,
            Err(Error::OutsideSandbox(_))
        ));
        assert!(matches!(
            show(&"ab".repeat(32), None).await,
            Err(Error::UnknownImage(_))
        ));
        for region in [
            Region {
                x: 1.0,
                y: 0.0,
                width: 0.5,
                height: 0.5,
            },
            Region {
                x: 0.0,
                y: 0.0,
                width: 0.0,
                height: 0.5,
            },
            Region {
                x: f64::NAN,
                y: 0.0,
                width: 0.5,
                height: 0.5,
            },
        ] {
            assert!(matches!(
                show("pic.png", Some(region)).await,
                Err(Error::Image(_))
            ));
        }
        // A region past the edge is clamped; a sliver still gives a picture.
        let edge = Region {
            x: 0.999,
            y: 0.999,
            width: 1.0,
            height: 1.0,
        };
        assert!(show("pic.png", Some(edge)).await.is_ok());

        let small = ImageTool::new()
            .with_sandbox(sandbox.clone())
            .with_limits(ImageLimits::default().with_max_encoded_bytes(100));
        assert!(matches!(
            small.show(args("pic.png", None), &ctx).await,
            Err(Error::TooLarge { .. })
        ));
        let without_sandbox = ImageTool::new();
        assert!(matches!(
            without_sandbox.show(args("pic.png", None), &ctx).await,
            Err(Error::Disabled("file paths"))
        ));
        assert!(
            ctx.take_attachments().len() == 1,
            "only the edge sliver was attached"
        );
    }

    #[tokio::test]
    async fn crops_the_conversations_images_by_number_or_hash() {
        let png = encoded(&picture(), ImageFormat::Png);
        let upload = ImageRef::from_bytes(png, "image/png");
        let ctx = ToolContext::new("c").with_images(Arc::new(vec![upload.clone()]));
        let tool = ImageTool::new().without_urls();
        let top_left = Region {
            x: 0.0,
            y: 0.0,
            width: 0.5,
            height: 0.5,
        };
        let by_number = tool.show(args("#1", Some(top_left)), &ctx).await.unwrap();
        assert!(
            by_number.source.contains(&upload.sha256),
            "{}",
            by_number.source
        );
        assert_eq!(by_number.region, Some(top_left));
        let by_hash = tool
            .show(args(&upload.sha256.to_uppercase(), Some(top_left)), &ctx)
            .await
            .unwrap();
        assert_eq!(by_hash.sha256, by_number.sha256, "the same crop");
        assert_eq!(ctx.take_attachments().len(), 2);
        for missing in ["#2", "#0", "#x"] {
            let error = tool.show(args(missing, None), &ctx).await.unwrap_err();
            assert!(
                matches!(error, Error::UnknownImage(_)),
                "{missing}: {error}"
            );
        }
        let without_bytes =
            ToolContext::new("c").with_images(Arc::new(vec![upload.without_data()]));
        assert!(matches!(
            tool.show(args("#1", None), &without_bytes).await,
            Err(Error::UnknownImage(_))
        ));
    }

    #[tokio::test]
    async fn finds_images_by_hash_in_the_agents_cache_beyond_the_context_window() {
        let png = encoded(&picture(), ImageFormat::Png);
        let upload = ImageRef::from_bytes(png, "image/png");
        let tool = ImageTool::new();
        let cache = ImageCache::new();
        let ctx = ToolContext::new("c").with_image_cache(cache.clone());
        assert!(matches!(
            tool.show(args(&upload.sha256, None), &ctx).await,
            Err(Error::UnknownImage(_))
        ));
        cache.insert(&upload);
        let info = tool.show(args(&upload.sha256, None), &ctx).await.unwrap();
        assert_eq!(info.sha256, upload.sha256);

        // `#1` names a conversation image whose bytes only the cache holds.
        let ctx = ctx.with_images(Arc::new(vec![upload.without_data()]));
        let info = tool.show(args("#1", None), &ctx).await.unwrap();
        assert_eq!(info.sha256, upload.sha256);
    }
}
