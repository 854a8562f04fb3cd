//! The guarded fetcher: GET with an address policy checked on every hop, pinned connections,
//! timeouts, a redirect limit and a streamed byte cap.

mod error;
mod guard;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{redirect, Url};

pub use error::FetchError;
pub use guard::{BlockedAddress, NetworkGuard};

use guard::literal_ip;

/// Default time to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time between two reads of a response (headers or body).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time for a whole fetch, every redirect and the body included.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(30);
/// Default number of redirects followed.
pub const DEFAULT_MAX_REDIRECTS: usize = 5;

/// GETs http(s) URLs safely: every hop (the URL and each redirect target) is resolved and
/// checked by an address policy before any connection is made, and the connection is pinned
/// to the checked addresses, so a second DNS answer cannot slip past. Redirects are followed
/// by hand, each target checked again. System proxies are ignored (a proxy would connect on
/// our behalf, past the check).
///
/// The policy is a [`NetworkGuard`] (the default: public addresses only), a function of your
/// own ([`with_address_check`](Self::with_address_check)), or none at all
/// ([`unguarded`](Self::unguarded), for URLs you trust; system proxies are then used).
///
/// Timeouts default to [`DEFAULT_CONNECT_TIMEOUT`], [`DEFAULT_READ_TIMEOUT`] and
/// [`DEFAULT_TOTAL_TIMEOUT`]; at most [`DEFAULT_MAX_REDIRECTS`] redirects are followed.
///
/// ```
/// use argus_ingest::{FetchError, GuardedFetcher};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let fetcher = GuardedFetcher::default();
/// let refused = fetcher.get("http://169.254.169.254/latest/meta-data/", 1024).await;
/// assert!(matches!(refused, Err(FetchError::Blocked { .. })));
/// # }
/// ```
#[derive(Clone)]
pub struct GuardedFetcher {
    policy: Policy,
    connect_timeout: Duration,
    read_timeout: Duration,
    total_timeout: Duration,
    max_redirects: usize,
    /// The client of the unguarded policy, built once (guarded hops each get a pinned one).
    open_client: Arc<OnceLock<reqwest::Client>>,
}

/// Which addresses may be connected to.
#[derive(Clone)]
enum Policy {
    Guard(NetworkGuard),
    Check(Arc<CheckFn>),
    Open,
}

type CheckFn = dyn Fn(&str, SocketAddr) -> Result<(), String> + Send + Sync;

impl fmt::Debug for GuardedFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let policy: &dyn fmt::Debug = match &self.policy {
            Policy::Guard(guard) => guard,
            Policy::Check(_) => &"address check",
            Policy::Open => &"unguarded",
        };
        f.debug_struct("GuardedFetcher")
            .field("policy", policy)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("total_timeout", &self.total_timeout)
            .field("max_redirects", &self.max_redirects)
            .finish()
    }
}

impl Default for GuardedFetcher {
    fn default() -> Self {
        GuardedFetcher::new(NetworkGuard::new())
    }
}

/// A fetched response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
    /// A fetcher checking every address with `guard`, with the default timeouts and redirect
    /// limit.
    pub fn new(guard: NetworkGuard) -> Self {
        GuardedFetcher::with_policy(Policy::Guard(guard))
    }

    /// A fetcher that checks no address (system proxies are used): for URLs you trust.
    pub fn unguarded() -> Self {
        GuardedFetcher::with_policy(Policy::Open)
    }

    fn with_policy(policy: Policy) -> Self {
        GuardedFetcher {
            policy,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            total_timeout: DEFAULT_TOTAL_TIMEOUT,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            open_client: Arc::new(OnceLock::new()),
        }
    }

    /// The guard, when the policy is one.
    pub fn guard(&self) -> Option<&NetworkGuard> {
        match &self.policy {
            Policy::Guard(guard) => Some(guard),
            _ => None,
        }
    }

    /// Checks addresses with `guard`, keeping the other settings.
    pub fn with_guard(mut self, guard: NetworkGuard) -> Self {
        self.policy = Policy::Guard(guard);
        self
    }

    /// Checks addresses with `check` instead of a guard: it is given the host as written in
    /// the URL and one address it is or resolved to, and returns why it refuses it, if it does.
    ///
    /// ```
    /// use argus_ingest::{FetchError, GuardedFetcher};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let fetcher = GuardedFetcher::unguarded().with_address_check(|_host, address| {
    ///     if address.ip().is_loopback() {
    ///         Err("loopback".to_string())
    ///     } else {
    ///         Ok(())
    ///     }
    /// });
    /// let refused = fetcher.get("http://127.0.0.1:9/", 1024).await;
    /// assert!(matches!(refused, Err(FetchError::Blocked { reason, .. }) if reason == "loopback"));
    /// # }
    /// ```
    pub fn with_address_check(
        mut self,
        check: impl Fn(&str, SocketAddr) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.policy = Policy::Check(Arc::new(check));
        self
    }

    /// Sets the connect timeout.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self.open_client = Arc::new(OnceLock::new());
        self
    }

    /// Sets the timeout between two reads of the response.
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self.open_client = Arc::new(OnceLock::new());
        self
    }

    /// Sets the timeout of a whole fetch, every redirect and the body included.
    pub fn with_total_timeout(mut self, timeout: Duration) -> Self {
        self.total_timeout = timeout;
        self.open_client = Arc::new(OnceLock::new());
        self
    }

    /// Sets how many redirects are followed.
    pub fn with_max_redirects(mut self, redirects: usize) -> Self {
        self.max_redirects = redirects;
        self
    }

    /// GETs `url`, following redirects, and reads at most `max_bytes` of the body, whatever
    /// the status: a longer body is cut and marked [`truncated`](FetchedBody::truncated).
    pub async fn get(&self, url: &str, max_bytes: usize) -> Result<FetchedBody, FetchError> {
        self.within_deadline(url, async {
            let (url, response) = self.send(url).await?;
            read_capped(url, response, max_bytes).await
        })
        .await
    }

    /// GETs `url`, following redirects, and reads its whole body: a status other than success
    /// is [`FetchError::Status`], and a body over `max_bytes` is [`FetchError::TooLarge`],
    /// refused from its `Content-Length` when declared and as soon as it passes the cap while
    /// streaming otherwise.
    pub async fn get_all(&self, url: &str, max_bytes: u64) -> Result<FetchedBody, FetchError> {
        self.within_deadline(url, async {
            let (url, response) = self.send(url).await?;
            read_all(url, response, max_bytes).await
        })
        .await
    }

    async fn within_deadline<T>(
        &self,
        url: &str,
        fetch: impl Future<Output = Result<T, FetchError>>,
    ) -> Result<T, FetchError> {
        tokio::time::timeout(self.total_timeout, fetch)
            .await
            .unwrap_or_else(|_| {
                Err(FetchError::Timeout {
                    url: url.trim().to_string(),
                })
            })
    }

    /// Sends the request, following redirects by hand; the response is the first that is not
    /// a redirect.
    async fn send(&self, url: &str) -> Result<(Url, reqwest::Response), FetchError> {
        let mut url = parse_url(url, None)?;
        for _ in 0..=self.max_redirects {
            let client = self.client_for(&url).await?;
            let response = client
                .get(url.clone())
                .send()
                .await
                .map_err(|error| http_error(&url, error))?;
            if response.status().is_redirection() {
                if let Some(location) = response.headers().get(LOCATION) {
                    let location = location.to_str().map_err(|_| FetchError::InvalidUrl {
                        url: String::from_utf8_lossy(location.as_bytes()).into_owned(),
                        reason: "the redirect target is not valid text".into(),
                    })?;
                    tracing::debug!(from = %url, to = location, "following redirect");
                    url = parse_url(location, Some(&url))?;
                    continue;
                }
            }
            return Ok((url, response));
        }
        Err(FetchError::TooManyRedirects(self.max_redirects))
    }

    fn builder(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .redirect(redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .timeout(self.total_timeout)
            .user_agent(concat!("argus/", env!("CARGO_PKG_VERSION")))
    }

    /// A client for one request: under a policy, resolving the URL's host only to the checked
    /// addresses and bypassing proxies.
    async fn client_for(&self, url: &Url) -> Result<reqwest::Client, FetchError> {
        if let Policy::Open = self.policy {
            if let Some(client) = self.open_client.get() {
                return Ok(client.clone());
            }
            let client = self
                .builder()
                .build()
                .map_err(|error| http_error(url, error))?;
            return Ok(self.open_client.get_or_init(|| client).clone());
        }
        let addresses = self.resolve_checked(url).await?;
        let mut builder = self.builder().no_proxy();
        if let Some(host) = url.host_str().filter(|host| literal_ip(host).is_none()) {
            builder = builder.resolve_to_addrs(host, &addresses);
        }
        builder.build().map_err(|error| http_error(url, error))
    }

    /// Resolves the URL's host (an address literal as itself) and checks every address; the
    /// result is what the connection must be pinned to.
    async fn resolve_checked(&self, url: &Url) -> Result<Vec<SocketAddr>, FetchError> {
        let host = url.host_str().ok_or_else(|| FetchError::InvalidUrl {
            url: url.to_string(),
            reason: "it has no host".into(),
        })?;
        let port = url.port_or_known_default().unwrap_or(80);
        let addresses: Vec<SocketAddr> = match literal_ip(host) {
            Some(ip) => vec![SocketAddr::new(ip, port)],
            None => tokio::net::lookup_host((host, port))
                .await
                .map_err(|source| FetchError::Resolve {
                    host: host.to_string(),
                    source: Some(source),
                })?
                .collect(),
        };
        if addresses.is_empty() {
            return Err(FetchError::Resolve {
                host: host.to_string(),
                source: None,
            });
        }
        for &address in &addresses {
            let refused = match &self.policy {
                Policy::Guard(guard) => guard.check(host, address).map_err(|blocked| {
                    (
                        blocked.host,
                        format!("{} addresses are blocked", blocked.range),
                    )
                }),
                Policy::Check(check) => {
                    check(host, address).map_err(|reason| (host.to_string(), reason))
                }
                Policy::Open => Ok(()),
            };
            if let Err((host, reason)) = refused {
                return Err(FetchError::Blocked {
                    url: url.to_string(),
                    host,
                    address,
                    reason,
                });
            }
        }
        Ok(addresses)
    }
}

/// Parses `text` (relative to `base` for redirects) and accepts only http and https.
fn parse_url(text: &str, base: Option<&Url>) -> Result<Url, FetchError> {
    let parsed = match base {
        Some(base) => base.join(text.trim()),
        None => Url::parse(text.trim()),
    };
    let url = parsed.map_err(|error| FetchError::InvalidUrl {
        url: text.to_string(),
        reason: error.to_string(),
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(FetchError::UnsupportedScheme(url.scheme().to_string()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(FetchError::InvalidUrl {
            url: text.to_string(),
            reason: "it has no host".into(),
        });
    }
    Ok(url)
}

fn content_type(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

/// Reads at most `max_bytes` of the body, cutting the rest.
async fn read_capped(
    url: Url,
    mut response: reqwest::Response,
    max_bytes: usize,
) -> Result<FetchedBody, FetchError> {
    let status = response.status().as_u16();
    let content_type = content_type(&response);
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

/// Reads a successful response's whole body, refusing it as soon as it is known to exceed
/// `limit`.
async fn read_all(
    url: Url,
    mut response: reqwest::Response,
    limit: u64,
) -> Result<FetchedBody, FetchError> {
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status {
            url: url.to_string(),
            status: status.as_u16(),
        });
    }
    let too_large = |size| FetchError::TooLarge {
        url: url.to_string(),
        size,
        limit,
    };
    if let Some(declared) = response.content_length().filter(|&len| len > limit) {
        return Err(too_large(Some(declared)));
    }
    let content_type = content_type(&response);
    let capacity = response.content_length().unwrap_or(64 << 10);
    let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| http_error(&url, error))?
    {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(too_large(None));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(FetchedBody {
        url: url.to_string(),
        status: status.as_u16(),
        content_type,
        body,
        truncated: false,
    })
}

fn http_error(url: &Url, error: reqwest::Error) -> FetchError {
    if error.is_timeout() {
        return FetchError::Timeout {
            url: url.to_string(),
        };
    }
    let message = if error.is_connect() {
        "could not connect".to_string()
    } else {
        // The innermost cause says the most ("connection reset", "invalid certificate"...).
        let mut cause: &dyn std::error::Error = &error;
        while let Some(source) = cause.source() {
            cause = source;
        }
        cause.to_string()
    };
    FetchError::Http {
        url: url.to_string(),
        message,
        source: Some(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{Reply, TestServer};

    async fn server() -> TestServer {
        TestServer::start(|path| match path {
            "/ok" => Reply::new(200, "image/png", "png bytes"),
            "/missing" => Reply::new(404, "text/plain", "not here"),
            "/declared" => Reply::new(200, "image/png", "x").declaring_length(1_000_000),
            "/streamed" => Reply::new(200, "image/png", vec![b'a'; 4096])
                .repeated(64)
                .without_length(),
            "/hop" => Reply::redirect("/ok"),
            _ => Reply::new(400, "text/plain", ""),
        })
        .await
        .unwrap()
    }

    fn allowing(server: &TestServer) -> GuardedFetcher {
        GuardedFetcher::new(
            NetworkGuard::new()
                .allow(&format!("127.0.0.1:{}", server.port()))
                .unwrap(),
        )
    }

    #[tokio::test]
    async fn get_all_requires_success_and_the_whole_body() {
        let server = server().await;
        let fetcher = allowing(&server);
        let ok = fetcher.get_all(&server.url("/hop"), 100).await.unwrap();
        assert_eq!(
            (ok.url, ok.body),
            (server.url("/ok"), b"png bytes".to_vec())
        );
        assert_eq!(ok.content_type.as_deref(), Some("image/png"));
        assert!(matches!(
            fetcher.get_all(&server.url("/missing"), 100).await,
            Err(FetchError::Status { status: 404, .. })
        ));
        assert!(matches!(
            fetcher.get_all(&server.url("/declared"), 100).await,
            Err(FetchError::TooLarge {
                size: Some(1_000_000),
                limit: 100,
                ..
            })
        ));
        assert!(matches!(
            fetcher.get_all(&server.url("/streamed"), 10_000).await,
            Err(FetchError::TooLarge { size: None, .. })
        ));
        // `get` reads whatever the status, and cuts instead of refusing.
        let missing = fetcher.get(&server.url("/missing"), 3).await.unwrap();
        assert_eq!((missing.status, missing.truncated), (404, true));
        assert_eq!(missing.body, b"not");
    }

    #[tokio::test]
    async fn the_policy_decides_which_addresses_are_connected_to() {
        let server = server().await;
        let refused = GuardedFetcher::default()
            .get_all(&server.url("/ok"), 100)
            .await;
        match refused {
            Err(FetchError::Blocked {
                host,
                address,
                reason,
                ..
            }) => {
                assert_eq!((host.as_str(), address), ("127.0.0.1", server.address()));
                assert_eq!(reason, "loopback addresses are blocked");
            }
            other => panic!("expected Blocked, got {other:?}"),
        }
        let checked = GuardedFetcher::default().with_address_check(|host, _| {
            if host == "127.0.0.1" {
                Ok(())
            } else {
                Err(format!("{host} is not 127.0.0.1"))
            }
        });
        assert!(checked.get_all(&server.url("/ok"), 100).await.is_ok());
        assert!(checked.guard().is_none());
        let unguarded = GuardedFetcher::unguarded();
        assert!(unguarded.get_all(&server.url("/hop"), 100).await.is_ok());
        assert_eq!(server.hits(), 3, "the refused request never connected");
    }
}
