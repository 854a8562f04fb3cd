//! Why an image could not be loaded.

use std::path::PathBuf;

use crate::FetchError;

/// Why an image could not be loaded.
///
/// Each kind of bad input has its own variant so callers can branch on it (and tell a user
/// what to fix) without parsing messages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageLoadError {
    /// The input has no bytes at all.
    #[error("the image is empty (0 bytes)")]
    Empty,
    /// The encoded input is larger than [`ImageLimits::max_encoded_bytes`](crate::ImageLimits).
    #[error("the encoded image is too large: {} bytes, the limit is {limit} bytes", size.map_or_else(|| "more than the limit".to_string(), |s| s.to_string()))]
    TooLarge {
        /// The size, when known (a stream is cut off as soon as it passes the limit).
        size: Option<u64>,
        /// The configured limit.
        limit: u64,
    },
    /// The decoded image would have more pixels than
    /// [`ImageLimits::max_pixels`](crate::ImageLimits); refused before decoding.
    #[error("the image is {width}x{height} = {} pixels, the limit is {limit} pixels", u64::from(*width) * u64::from(*height))]
    TooManyPixels {
        /// Width from the image header.
        width: u32,
        /// Height from the image header.
        height: u32,
        /// The configured limit in pixels.
        limit: u64,
    },
    /// The bytes are not in an image format this build can decode.
    #[error("unsupported image format{}", detected.map(|f| format!(" ({f})")).unwrap_or_else(|| ": the content matches no known image signature".to_string()))]
    UnsupportedFormat {
        /// The format recognised from the magic bytes, if any (e.g. `"avif"`).
        detected: Option<&'static str>,
    },
    /// The data ends before the image does.
    #[error("the {format} image is truncated")]
    Truncated {
        /// The format recognised from the magic bytes.
        format: &'static str,
    },
    /// The data is in a known format but cannot be decoded.
    #[error("the {format} image is corrupt: {reason}")]
    Corrupt {
        /// The format recognised from the magic bytes.
        format: &'static str,
        /// What the decoder complained about.
        reason: String,
        /// The decoder's error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A file could not be read.
    #[error("cannot read image file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A URL could not be fetched (connection failure or a non-success status).
    #[error("cannot fetch image {url}: {reason}")]
    Fetch {
        /// The URL.
        url: String,
        /// The HTTP status, if the server answered.
        status: Option<u16>,
        /// What went wrong.
        reason: String,
        /// The HTTP client's error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A URL, or a redirect target, resolved to an address the fetcher's address policy
    /// ([`NetworkGuard`](crate::NetworkGuard) or
    /// [`GuardedFetcher::with_address_check`](crate::GuardedFetcher::with_address_check))
    /// refused; nothing was sent to it.
    #[error("refused to fetch image {url}: {address} is not allowed ({reason})")]
    Blocked {
        /// The URL (or redirect target) that was refused.
        url: String,
        /// The refused address.
        address: std::net::SocketAddr,
        /// The check's reason.
        reason: String,
    },
    /// Connecting to or reading from a URL took longer than the configured timeout.
    #[error("fetching image {url} timed out")]
    Timeout {
        /// The URL.
        url: String,
    },
    /// A base64 string or `data:` URL could not be decoded.
    #[error("invalid base64 image data: {reason}")]
    InvalidBase64 {
        /// What is wrong with it.
        reason: String,
    },
    /// The source cannot be loaded at all: an unsupported URL scheme, or an image reference
    /// that carries no bytes.
    #[error("unsupported image source: {0}")]
    UnsupportedSource(String),
}

impl From<FetchError> for ImageLoadError {
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::InvalidUrl { url, reason } => {
                ImageLoadError::UnsupportedSource(format!("{url} is not a valid URL: {reason}"))
            }
            FetchError::UnsupportedScheme(scheme) => ImageLoadError::UnsupportedSource(format!(
                "only http and https URLs can be fetched, not {scheme}:"
            )),
            FetchError::Blocked {
                url,
                address,
                reason,
                ..
            } => ImageLoadError::Blocked {
                url,
                address,
                reason,
            },
            FetchError::Timeout { url } => ImageLoadError::Timeout { url },
            FetchError::TooLarge { size, limit, .. } => ImageLoadError::TooLarge { size, limit },
            FetchError::Status { url, status } => ImageLoadError::Fetch {
                url,
                status: Some(status),
                reason: format!("the server answered {status}"),
                source: None,
            },
            FetchError::Http {
                url,
                message,
                source,
            } => ImageLoadError::Fetch {
                url,
                status: source
                    .as_ref()
                    .and_then(|error| error.status())
                    .map(|s| s.as_u16()),
                reason: message,
                source: source.map(|error| Box::new(error) as _),
            },
            FetchError::Resolve { host, source } => ImageLoadError::Fetch {
                url: host.clone(),
                status: None,
                reason: format!("cannot resolve {host}"),
                source: source.map(|error| Box::new(error) as _),
            },
            other => ImageLoadError::Fetch {
                url: String::new(),
                status: None,
                reason: other.to_string(),
                source: None,
            },
        }
    }
}
