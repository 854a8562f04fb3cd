//! Fetching an image over HTTP(S): timeouts, a byte cap enforced while streaming the body.

use super::error::ImageLoadError;
use super::limits::ImageLimits;
use super::source::check_size;

/// Builds the HTTP client for these limits (connect and read timeouts, no compression).
pub(crate) fn client(limits: &ImageLimits) -> Result<reqwest::Client, ImageLoadError> {
    reqwest::Client::builder()
        .connect_timeout(limits.connect_timeout)
        .read_timeout(limits.read_timeout)
        .timeout(limits.fetch_timeout)
        .user_agent(concat!("argus-vision/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| ImageLoadError::Fetch {
            url: String::new(),
            status: None,
            reason: format!("cannot build the HTTP client: {error}"),
            source: Some(Box::new(error)),
        })
}

/// Downloads `url`, refusing it as soon as it is known to exceed the byte limit (from
/// `Content-Length`, or while streaming the body when the length is not declared or lies).
pub(crate) async fn fetch(
    client: &reqwest::Client,
    url: &str,
    limits: &ImageLimits,
) -> Result<Vec<u8>, ImageLoadError> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("http" | "https")) {
        return Err(ImageLoadError::UnsupportedSource(format!(
            "only http and https URLs can be fetched, not {url}"
        )));
    }
    let download = download(client, url, limits.max_encoded_bytes);
    match tokio::time::timeout(limits.fetch_timeout, download).await {
        Ok(result) => result,
        Err(_) => Err(ImageLoadError::Timeout {
            url: url.to_string(),
        }),
    }
}

async fn download(
    client: &reqwest::Client,
    url: &str,
    limit: u64,
) -> Result<Vec<u8>, ImageLoadError> {
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|error| http_error(url, error))?;
    let status = response.status();
    if !status.is_success() {
        return Err(ImageLoadError::Fetch {
            url: url.to_string(),
            status: Some(status.as_u16()),
            reason: format!("the server answered {status}"),
            source: None,
        });
    }
    if let Some(declared) = response.content_length() {
        if declared > limit {
            return Err(ImageLoadError::TooLarge {
                size: Some(declared),
                limit,
            });
        }
    }
    let capacity = response.content_length().unwrap_or(64 << 10) as usize;
    let mut body = Vec::with_capacity(capacity);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| http_error(url, error))?
    {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(ImageLoadError::TooLarge { size: None, limit });
        }
        body.extend_from_slice(&chunk);
    }
    check_size(body.len() as u64, limit)?;
    Ok(body)
}

fn http_error(url: &str, error: reqwest::Error) -> ImageLoadError {
    if error.is_timeout() {
        return ImageLoadError::Timeout {
            url: url.to_string(),
        };
    }
    let reason = if error.is_connect() {
        "cannot connect".to_string()
    } else if error.is_body() || error.is_decode() {
        "the response body could not be read".to_string()
    } else {
        error.to_string()
    };
    ImageLoadError::Fetch {
        url: url.to_string(),
        status: error.status().map(|s| s.as_u16()),
        reason,
        source: Some(Box::new(error)),
    }
}
