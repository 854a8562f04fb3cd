//! Where an image comes from, and reading its encoded bytes within the size limit.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;

use super::error::ImageLoadError;
use super::limits::ImageLimits;
use crate::GuardedFetcher;

/// Where an image comes from.
///
/// [`ImageSource::parse`] reads a user-supplied string: `http://`/`https://` URLs, `data:`
/// URLs, and anything else as a file path.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageSource {
    /// A local file. The format is detected from its content, never its name.
    Path(PathBuf),
    /// An `http://` or `https://` URL.
    Url(String),
    /// Encoded image bytes (PNG, JPEG, ...).
    Bytes(Arc<[u8]>),
    /// Base64 of the encoded bytes, bare or as a `data:image/...;base64,` URL.
    Base64(String),
}

impl fmt::Debug for ImageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageSource::Path(path) => f.debug_tuple("Path").field(path).finish(),
            ImageSource::Url(url) => f.debug_tuple("Url").field(url).finish(),
            ImageSource::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
            ImageSource::Base64(text) => write!(f, "Base64({} chars)", text.len()),
        }
    }
}

impl ImageSource {
    /// Reads a user-supplied string: a URL with a scheme, a `data:` URL, or a file path.
    ///
    /// ```
    /// use argus_ingest::ImageSource;
    ///
    /// assert!(matches!(ImageSource::parse("https://example.com/cat.jpg"), ImageSource::Url(_)));
    /// assert!(matches!(ImageSource::parse("data:image/png;base64,iVBORw0K"), ImageSource::Base64(_)));
    /// assert!(matches!(ImageSource::parse("photos/cat.jpg"), ImageSource::Path(_)));
    /// ```
    pub fn parse(text: &str) -> ImageSource {
        let trimmed = text.trim();
        let lower = trimmed
            .get(..trimmed.len().min(16))
            .unwrap_or_default()
            .to_ascii_lowercase();
        if lower.starts_with("data:") {
            ImageSource::Base64(trimmed.to_string())
        } else if has_url_scheme(trimmed) {
            ImageSource::Url(trimmed.to_string())
        } else {
            ImageSource::Path(PathBuf::from(text))
        }
    }

    /// Reads the encoded bytes within `limits.max_encoded_bytes`, without decoding them: a
    /// URL through `fetcher`, a file on the blocking pool.
    ///
    /// ```
    /// use argus_ingest::{GuardedFetcher, ImageLimits, ImageLoadError, ImageSource};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (limits, fetcher) = (ImageLimits::default(), GuardedFetcher::default());
    /// let bytes = ImageSource::parse("data:image/png;base64,aGVsbG8=").read(&limits, &fetcher).await;
    /// assert_eq!(bytes.unwrap(), b"hello");
    /// let refused = ImageSource::parse("http://127.0.0.1/cat.png").read(&limits, &fetcher).await;
    /// assert!(matches!(refused, Err(ImageLoadError::Blocked { .. })));
    /// # }
    /// ```
    pub async fn read(
        self,
        limits: &ImageLimits,
        fetcher: &GuardedFetcher,
    ) -> Result<Vec<u8>, ImageLoadError> {
        let limit = limits.max_encoded_bytes;
        match self {
            ImageSource::Url(url) => {
                let fetched = fetcher.get_all(&url, limit).await?;
                check_size(fetched.body.len() as u64, limit)?;
                Ok(fetched.body)
            }
            ImageSource::Path(path) => tokio::task::spawn_blocking(move || read_file(&path, limit))
                .await
                .map_err(|error| ImageLoadError::UnsupportedSource(error.to_string()))?,
            other => other.read_local(limits),
        }
    }

    /// Reads the encoded bytes of a source that needs no network (file, bytes, base64) within
    /// `limits.max_encoded_bytes`, blocking the calling thread. URLs are refused with
    /// [`ImageLoadError::UnsupportedSource`].
    pub fn read_local(self, limits: &ImageLimits) -> Result<Vec<u8>, ImageLoadError> {
        let limit = limits.max_encoded_bytes;
        match self {
            ImageSource::Path(path) => read_file(&path, limit),
            ImageSource::Bytes(bytes) => {
                check_size(bytes.len() as u64, limit)?;
                Ok(bytes.to_vec())
            }
            ImageSource::Base64(text) => decode_base64(&text, limit),
            ImageSource::Url(url) => Err(ImageLoadError::UnsupportedSource(format!(
                "{url} must be fetched with the async `read`"
            ))),
        }
    }

    /// A short description for logs and errors (never the bytes themselves).
    pub fn describe(&self) -> String {
        match self {
            ImageSource::Path(path) => path.display().to_string(),
            ImageSource::Url(url) => url.clone(),
            ImageSource::Bytes(bytes) => format!("{} bytes", bytes.len()),
            ImageSource::Base64(text) => format!("{} base64 chars", text.len()),
        }
    }
}

/// `scheme://` with a scheme of two or more letters (so `C:\x` stays a path).
fn has_url_scheme(text: &str) -> bool {
    match text.split_once("://") {
        Some((scheme, _)) => {
            scheme.len() >= 2
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

impl From<PathBuf> for ImageSource {
    fn from(path: PathBuf) -> Self {
        ImageSource::Path(path)
    }
}

impl From<&Path> for ImageSource {
    fn from(path: &Path) -> Self {
        ImageSource::Path(path.to_path_buf())
    }
}

impl From<Vec<u8>> for ImageSource {
    fn from(bytes: Vec<u8>) -> Self {
        ImageSource::Bytes(bytes.into())
    }
}

impl From<Arc<[u8]>> for ImageSource {
    fn from(bytes: Arc<[u8]>) -> Self {
        ImageSource::Bytes(bytes)
    }
}

impl From<&[u8]> for ImageSource {
    fn from(bytes: &[u8]) -> Self {
        ImageSource::Bytes(bytes.into())
    }
}

impl From<&str> for ImageSource {
    /// Same as [`ImageSource::parse`].
    fn from(text: &str) -> Self {
        ImageSource::parse(text)
    }
}

/// Reads a file, refusing it from its metadata when it is over the limit and never reading
/// more than `limit + 1` bytes (the file may grow while it is read).
fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>, ImageLoadError> {
    let io_error = |source| ImageLoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_error)?;
    let declared = file.metadata().map_err(io_error)?.len();
    if declared > limit {
        return Err(ImageLoadError::TooLarge {
            size: Some(declared),
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(declared as usize);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    check_size(bytes.len() as u64, limit)?;
    Ok(bytes)
}

/// Decodes bare base64 or a `data:` URL, refusing it from its length when it is over the limit.
fn decode_base64(text: &str, limit: u64) -> Result<Vec<u8>, ImageLoadError> {
    let text = text.trim();
    let payload = if text.len() >= 5 && text[..5].eq_ignore_ascii_case("data:") {
        let (header, payload) =
            text.split_once(',')
                .ok_or_else(|| ImageLoadError::InvalidBase64 {
                    reason: "a data: URL needs a comma before its payload".into(),
                })?;
        if !header.to_ascii_lowercase().ends_with(";base64") {
            return Err(ImageLoadError::InvalidBase64 {
                reason: "only base64 data: URLs are supported".into(),
            });
        }
        payload
    } else {
        text
    };
    // Whitespace (line breaks in pasted base64) is allowed and ignored.
    let compact: String = payload.split_ascii_whitespace().collect();
    let decoded_len = (compact.len() as u64 / 4) * 3;
    if decoded_len > limit.saturating_add(3) {
        return Err(ImageLoadError::TooLarge {
            size: Some(decoded_len),
            limit,
        });
    }
    let engine = if compact.contains(['-', '_']) {
        &base64::engine::general_purpose::URL_SAFE
    } else {
        &base64::engine::general_purpose::STANDARD
    };
    let padded = if compact.len().is_multiple_of(4) {
        compact
    } else {
        let padding = 4 - compact.len() % 4;
        compact + &"=".repeat(padding)
    };
    let bytes = engine
        .decode(padded)
        .map_err(|error| ImageLoadError::InvalidBase64 {
            reason: error.to_string(),
        })?;
    check_size(bytes.len() as u64, limit)?;
    Ok(bytes)
}

/// Refuses empty and oversized inputs.
pub(crate) fn check_size(len: u64, limit: u64) -> Result<(), ImageLoadError> {
    if len == 0 {
        Err(ImageLoadError::Empty)
    } else if len > limit {
        Err(ImageLoadError::TooLarge {
            size: Some(len),
            limit,
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_tells_urls_data_and_paths_apart() {
        assert_eq!(
            ImageSource::parse("HTTP://x/y.png"),
            ImageSource::Url("HTTP://x/y.png".into())
        );
        assert!(matches!(
            ImageSource::parse("ftp://x/y.png"),
            ImageSource::Url(_)
        ));
        assert!(matches!(
            ImageSource::parse(r"C:\images\a.png"),
            ImageSource::Path(_)
        ));
        assert!(matches!(
            ImageSource::parse("DATA:image/png;base64,AAAA"),
            ImageSource::Base64(_)
        ));
    }

    #[test]
    fn base64_variants_decode() {
        assert_eq!(decode_base64("aGVsbG8=", 100).unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8", 100).unwrap(), b"hello");
        assert_eq!(
            decode_base64("data:image/png;base64,aGVs\nbG8=", 100).unwrap(),
            b"hello"
        );
        assert!(matches!(
            decode_base64("data:image/png,hello", 100),
            Err(ImageLoadError::InvalidBase64 { .. })
        ));
        assert!(matches!(
            decode_base64("!!!!", 100),
            Err(ImageLoadError::InvalidBase64 { .. })
        ));
        assert!(matches!(
            decode_base64("aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=", 8),
            Err(ImageLoadError::TooLarge { .. })
        ));
        assert!(matches!(decode_base64("", 8), Err(ImageLoadError::Empty)));
    }
}
