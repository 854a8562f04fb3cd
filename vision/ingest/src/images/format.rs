//! Format detection from magic bytes, cheap structural truncation checks and decoder-error
//! classification.

use image::ImageFormat;

use super::error::ImageLoadError;

/// The formats this crate decodes. Others that the `image` crate may know (through feature
/// unification with other crates) are refused, so behaviour does not depend on the build.
const SUPPORTED: [ImageFormat; 6] = [
    ImageFormat::Jpeg,
    ImageFormat::Png,
    ImageFormat::Gif,
    ImageFormat::WebP,
    ImageFormat::Bmp,
    ImageFormat::Tiff,
];

/// The short lowercase name of a format (`"jpeg"`, `"png"`, ...).
pub(crate) fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "jpeg",
        ImageFormat::Png => "png",
        ImageFormat::Gif => "gif",
        ImageFormat::WebP => "webp",
        ImageFormat::Bmp => "bmp",
        ImageFormat::Tiff => "tiff",
        ImageFormat::Avif => "avif",
        ImageFormat::Ico => "ico",
        ImageFormat::Tga => "tga",
        ImageFormat::Dds => "dds",
        ImageFormat::Hdr => "hdr",
        ImageFormat::OpenExr => "openexr",
        ImageFormat::Pnm => "pnm",
        ImageFormat::Farbfeld => "farbfeld",
        ImageFormat::Qoi => "qoi",
        _ => "unknown",
    }
}

/// Detects the format from the content (never from a file name or a declared media type).
pub(crate) fn detect(bytes: &[u8]) -> Result<ImageFormat, ImageLoadError> {
    if bytes.is_empty() {
        return Err(ImageLoadError::Empty);
    }
    match image::guess_format(bytes) {
        Ok(format) if SUPPORTED.contains(&format) => Ok(format),
        Ok(format) => Err(ImageLoadError::UnsupportedFormat {
            detected: Some(format_name(format)),
        }),
        Err(_) => Err(ImageLoadError::UnsupportedFormat {
            detected: sniff_other(bytes),
        }),
    }
}

/// Names a few common non-image or undecodable inputs for a better error message.
fn sniff_other(bytes: &[u8]) -> Option<&'static str> {
    let head = &bytes[..bytes.len().min(64)];
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return match &head[8..12] {
            b"heic" | b"heix" | b"mif1" | b"msf1" => Some("heic"),
            b"avif" | b"avis" => Some("avif"),
            _ => Some("iso-bmff"),
        };
    }
    if head.starts_with(b"%PDF") {
        return Some("pdf");
    }
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    if text.trim_start().starts_with("<svg") || text.contains("<svg") {
        return Some("svg");
    }
    None
}

/// Whether the bytes visibly end before the image does, checked from the container
/// structure (a decoder may otherwise fill missing data with grey and report success).
pub(crate) fn is_truncated(format: ImageFormat, bytes: &[u8]) -> bool {
    match format {
        ImageFormat::Jpeg => {
            // Entropy-coded data never contains FF D9 (0xFF is stuffed as FF 00), so the image
            // is complete only if an end-of-image marker follows the last start-of-scan.
            let last_eoi = rfind(bytes, &[0xFF, 0xD9]);
            let last_sos = rfind(bytes, &[0xFF, 0xDA]);
            match (last_eoi, last_sos) {
                (None, _) => true,
                (Some(eoi), Some(sos)) => eoi < sos,
                (Some(_), None) => false,
            }
        }
        ImageFormat::Png => rfind(bytes, b"IEND").is_none(),
        ImageFormat::WebP => riff_declared_len(bytes).is_some_and(|len| len > bytes.len()),
        ImageFormat::Bmp => {
            bytes.len() < 14 || {
                let declared =
                    u32::from_le_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]) as usize;
                let pixel_offset =
                    u32::from_le_bytes([bytes[10], bytes[11], bytes[12], bytes[13]]) as usize;
                declared > bytes.len() || pixel_offset > bytes.len()
            }
        }
        _ => false,
    }
}

fn riff_declared_len(bytes: &[u8]) -> Option<usize> {
    let size = bytes.get(4..8)?;
    Some(u32::from_le_bytes([size[0], size[1], size[2], size[3]]) as usize + 8)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// Maps a decoder error to the variant a caller branches on.
pub(crate) fn classify(
    format: ImageFormat,
    dimensions: Option<(u32, u32)>,
    max_pixels: u64,
    error: image::ImageError,
) -> ImageLoadError {
    let name = format_name(format);
    match &error {
        image::ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            return ImageLoadError::Truncated { format: name };
        }
        image::ImageError::Limits(_) => {
            if let Some((width, height)) = dimensions {
                return ImageLoadError::TooManyPixels {
                    width,
                    height,
                    limit: max_pixels,
                };
            }
        }
        image::ImageError::Unsupported(_) => {
            return ImageLoadError::UnsupportedFormat {
                detected: Some(name),
            };
        }
        _ => {}
    }
    let reason = error.to_string();
    let lower = reason.to_ascii_lowercase();
    if [
        "unexpected eof",
        "unexpected end",
        "end of file",
        "truncated",
        "no more bytes",
    ]
    .iter()
    .any(|hint| lower.contains(hint))
    {
        return ImageLoadError::Truncated { format: name };
    }
    ImageLoadError::Corrupt {
        format: name,
        reason,
        source: Some(Box::new(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_from_content_not_names() {
        assert_eq!(
            detect(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR").ok(),
            Some(ImageFormat::Png)
        );
        assert!(matches!(detect(b""), Err(ImageLoadError::Empty)));
        assert!(matches!(
            detect(b"hello world"),
            Err(ImageLoadError::UnsupportedFormat { detected: None })
        ));
        assert!(matches!(
            detect(b"\0\0\0\x1cftypheic\0\0\0\0"),
            Err(ImageLoadError::UnsupportedFormat {
                detected: Some("heic")
            })
        ));
        assert!(matches!(
            detect(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            Err(ImageLoadError::UnsupportedFormat {
                detected: Some("svg")
            })
        ));
        // QOI is a real image format the `image` crate knows, but this crate does not take it.
        assert!(matches!(
            detect(b"qoif\0\0\0\x01\0\0\0\x01\x03\0"),
            Err(ImageLoadError::UnsupportedFormat {
                detected: Some("qoi")
            })
        ));
    }

    #[test]
    fn jpeg_without_end_marker_after_scan_is_truncated() {
        let complete = [0xFF, 0xD8, 0xFF, 0xDA, 1, 2, 3, 0xFF, 0xD9];
        assert!(!is_truncated(ImageFormat::Jpeg, &complete));
        assert!(is_truncated(ImageFormat::Jpeg, &complete[..7]));
    }
}
