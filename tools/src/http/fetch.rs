//! The guarded fetcher: GET with a network guard checked on every hop, pinned connections,
//! timeouts, a redirect limit and a streamed byte cap.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{redirect, Url};

use super::guard::{literal_ip, NetworkGuard};
use crate::Error;

/// GETs http(s) URLs safely: every hop (the URL and each redirect target) is resolved and
/// checked by the [`NetworkGuard`] before any connection is made, and the connection is pinned
/// to the checked addresses.
///
/// Used by [`HttpFetch`](crate::HttpFetch) and [`ImageTool`](crate::ImageTool); usable on its
/// own. System proxies are ignored (a proxy would connect on our behalf, past the guard).
#[derive(Debug, Clone)]
pub struct GuardedFetcher {
    guard: NetworkGuard,
    connect_timeout: Duration,
    read_timeout: Duration,
    total_timeout: Duration,
    max_redirects: usize,
}

impl Default for GuardedFetcher {
    fn default() -> Self {
        GuardedFetcher::new(NetworkGuard::new())
    }
}

/// A fetched response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedBody {
    /// The URL that answered, after redirects.
    pub url: String,
    /// HTTP status code.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body, at most the cap given.
    pub body: Vec<u8>,
    /// Whether the body was cut at the cap.
    pub truncated: bool,
}

impl GuardedFetcher {
    /// A fetcher with `guard`, 5 s connect and 10 s read timeouts, 30 s in all, 5 redirects.
    pub fn new(guard: NetworkGuard) -> Self {
        GuardedFetcher {
            guard,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
            max_redirects: 5,
        }
    }

    /// The guard.
    pub fn guard(&self) -> &NetworkGuard {
        &self.guard
    }

    /// Replaces the guard.
    pub fn with_guard(mut self, guard: NetworkGuard) -> Self {
        self.guard = guard;
        self
    }

    /// Sets the connect timeout.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the timeout between two reads of the response.
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Sets the timeout of each request, body included.
    pub fn with_total_timeout(mut self, timeout: Duration) -> Self {
        self.total_timeout = timeout;
        self
    }

    /// Sets how many redirects are followed.
    pub fn with_max_redirects(mut self, redirects: usize) -> Self {
        self.max_redirects = redirects;
        self
    }

    /// GETs `url`, following redirects, and reads at most `max_bytes` of the body.
    pub async fn get(&self, url: &str, max_bytes: usize) -> Result<FetchedBody, Error> {
        let mut url = parse_url(url, None)?;
        for _ in 0..=self.max_redirects {
            let addresses = self.guard.resolve(&url).await?;
            let client = self.client_for(&url, &addresses)?;
            let response = client
                .get(url.clone())
                .send()
                .await
                .map_err(|error| http_error(&url, error))?;
            if response.status().is_redirection() {
                if let Some(location) = response.headers().get(LOCATION) {
                    let location = location.to_str().map_err(|_| Error::InvalidUrl {
                        url: String::from_utf8_lossy(location.as_bytes()).into_owned(),
                        reason: "the redirect target is not valid text".into(),
                    })?;
                    tracing::debug!(from = %url, to = location, "following redirect");
                    url = parse_url(location, Some(&url))?;
                    continue;
                }
            }
            return read_body(url, response, max_bytes).await;
        }
        Err(Error::TooManyRedirects(self.max_redirects))
    }

    /// A client for one request, resolving the URL's host only to the checked addresses.
    fn client_for(
        &self,
        url: &Url,
        addresses: &[std::net::SocketAddr],
    ) -> Result<reqwest::Client, Error> {
        let mut builder = reqwest::Client::builder()
            .redirect(redirect::Policy::none())
            .no_proxy()
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .timeout(self.total_timeout)
            .user_agent(concat!("argus-tools/", env!("CARGO_PKG_VERSION")));
        if let Some(host) = url.host_str().filter(|host| literal_ip(host).is_none()) {
            builder = builder.resolve_to_addrs(host, addresses);
        }
        builder.build().map_err(|error| http_error(url, error))
    }
}

/// Parses `text` (relative to `base` for redirects) and accepts only http and https.
fn parse_url(text: &str, base: Option<&Url>) -> Result<Url, Error> {
    let parsed = match base {
        Some(base) => base.join(text.trim()),
        None => Url::parse(text.trim()),
    };
    let url = parsed.map_err(|error| Error::InvalidUrl {
        url: text.to_string(),
        reason: error.to_string(),
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(Error::UnsupportedScheme(url.scheme().to_string()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::InvalidUrl {
            url: text.to_string(),
            reason: "it has no host".into(),
        });
    }
    Ok(url)
}

async fn read_body(
    url: Url,
    mut response: reqwest::Response,
    max_bytes: usize,
) -> Result<FetchedBody, Error> {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let mut body = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| http_error(&url, error))?
    {
        let room = max_bytes - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(FetchedBody {
        url: url.to_string(),
        status,
        content_type,
        body,
        truncated,
    })
}

fn http_error(url: &Url, error: reqwest::Error) -> Error {
    let message = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "could not connect".to_string()
    } else {
        // The innermost cause says the most ("connection reset", "invalid certificate"...).
        let mut cause: &dyn std::error::Error = &error;
        while let Some(source) = cause.source() {
            cause = source;
        }
        cause.to_string()
    };
    Error::Http {
        url: url.to_string(),
        message,
        source: Some(error),
    }
}
