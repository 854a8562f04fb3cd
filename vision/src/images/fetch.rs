//! Fetching an image over HTTP(S): timeouts, a byte cap enforced while streaming the body, and
//! an optional [`AddressCheck`] on every hop.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::header::LOCATION;
use reqwest::{redirect, Url};

use super::error::ImageLoadError;
use super::limits::ImageLimits;
use super::source::check_size;

/// Redirects a checked fetch follows, at most.
const MAX_REDIRECTS: usize = 5;

/// Decides which addresses URL fetches may connect to, given the host as written in the URL
/// and one address it resolved to; `Err` carries the reason for refusing.
#[derive(Clone)]
pub(crate) struct AddressCheck(Arc<CheckFn>);

type CheckFn = dyn Fn(&str, SocketAddr) -> Result<(), String> + Send + Sync;

impl AddressCheck {
    /// Wraps a check function.
    pub(crate) fn new(
        check: impl Fn(&str, SocketAddr) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        AddressCheck(Arc::new(check))
    }

    fn check(&self, host: &str, address: SocketAddr) -> Result<(), String> {
        (self.0)(host, address)
    }
}

impl fmt::Debug for AddressCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AddressCheck(..)")
    }
}

fn client_builder(limits: &ImageLimits) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(limits.connect_timeout)
        .read_timeout(limits.read_timeout)
        .timeout(limits.fetch_timeout)
        .user_agent(concat!("argus-vision/", env!("CARGO_PKG_VERSION")))
}

fn build(builder: reqwest::ClientBuilder) -> Result<reqwest::Client, ImageLoadError> {
    builder.build().map_err(|error| ImageLoadError::Fetch {
        url: String::new(),
        status: None,
        reason: format!("cannot build the HTTP client: {error}"),
        source: Some(Box::new(error)),
    })
}

/// Builds the HTTP client for these limits (connect and read timeouts, no compression).
pub(crate) fn client(limits: &ImageLimits) -> Result<reqwest::Client, ImageLoadError> {
    build(client_builder(limits))
}

/// Downloads `url`, refusing it as soon as it is known to exceed the byte limit (from
/// `Content-Length`, or while streaming the body when the length is not declared or lies).
pub(crate) async fn fetch(
    client: &reqwest::Client,
    url: &str,
    limits: &ImageLimits,
) -> Result<Vec<u8>, ImageLoadError> {
    check_scheme(url)?;
    let download = async {
        let response = client
            .get(url)
            .send()
            .await
            .map_err(|error| http_error(url, error))?;
        read_body(url, response, limits.max_encoded_bytes).await
    };
    with_deadline(url, limits, download).await
}

/// [`fetch`] with every hop checked: the URL's host and each redirect target are resolved,
/// every address is passed to `check`, and the connection is pinned to the checked addresses
/// (so a second DNS answer cannot slip past). System proxies are not used: a proxy would
/// connect on our behalf, past the check.
pub(crate) async fn fetch_checked(
    url: &str,
    limits: &ImageLimits,
    check: &AddressCheck,
) -> Result<Vec<u8>, ImageLoadError> {
    check_scheme(url)?;
    let download = async {
        let mut current = Url::parse(url).map_err(|error| {
            ImageLoadError::UnsupportedSource(format!("{url} is not a valid URL: {error}"))
        })?;
        for _ in 0..=MAX_REDIRECTS {
            let (host, addresses) = resolve_checked(&current, check).await?;
            let client = build(
                client_builder(limits)
                    .redirect(redirect::Policy::none())
                    .no_proxy()
                    .resolve_to_addrs(&host, &addresses),
            )?;
            let shown = current.to_string();
            let response = client
                .get(current.clone())
                .send()
                .await
                .map_err(|error| http_error(&shown, error))?;
            let location = response
                .status()
                .is_redirection()
                .then(|| response.headers().get(LOCATION))
                .flatten();
            if let Some(location) = location {
                let target = location
                    .to_str()
                    .ok()
                    .and_then(|location| current.join(location).ok())
                    .ok_or_else(|| fetch_error(&shown, "the redirect target is not a valid URL"))?;
                check_scheme(target.as_str())?;
                tracing::debug!(from = %current, to = %target, "following redirect");
                current = target;
                continue;
            }
            return read_body(&shown, response, limits.max_encoded_bytes).await;
        }
        Err(fetch_error(
            url,
            &format!("more than {MAX_REDIRECTS} redirects"),
        ))
    };
    with_deadline(url, limits, download).await
}

/// Resolves the URL's host (an address literal as itself) and checks every address.
async fn resolve_checked(
    url: &Url,
    check: &AddressCheck,
) -> Result<(String, Vec<SocketAddr>), ImageLoadError> {
    let shown = url.as_str();
    let host = url
        .host_str()
        .ok_or_else(|| fetch_error(shown, "the URL has no host"))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|error| fetch_error(shown, &format!("cannot resolve {host}: {error}")))?
            .collect(),
    };
    if addresses.is_empty() {
        return Err(fetch_error(
            shown,
            &format!("{host} resolves to no address"),
        ));
    }
    for address in &addresses {
        check
            .check(host, *address)
            .map_err(|reason| ImageLoadError::Blocked {
                url: shown.to_string(),
                address: *address,
                reason,
            })?;
    }
    Ok((host.to_string(), addresses))
}

fn check_scheme(url: &str) -> Result<(), ImageLoadError> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if matches!(scheme.as_deref(), Some("http" | "https")) {
        Ok(())
    } else {
        Err(ImageLoadError::UnsupportedSource(format!(
            "only http and https URLs can be fetched, not {url}"
        )))
    }
}

async fn with_deadline(
    url: &str,
    limits: &ImageLimits,
    download: impl std::future::Future<Output = Result<Vec<u8>, ImageLoadError>>,
) -> Result<Vec<u8>, ImageLoadError> {
    match tokio::time::timeout(limits.fetch_timeout, download).await {
        Ok(result) => result,
        Err(_) => Err(ImageLoadError::Timeout {
            url: url.to_string(),
        }),
    }
}

fn fetch_error(url: &str, reason: &str) -> ImageLoadError {
    ImageLoadError::Fetch {
        url: url.to_string(),
        status: None,
        reason: reason.to_string(),
        source: None,
    }
}

/// Reads a response: a non-success status is an error; the body is refused as soon as it is
/// known to exceed `limit`.
async fn read_body(
    url: &str,
    mut response: reqwest::Response,
    limit: u64,
) -> Result<Vec<u8>, ImageLoadError> {
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
