//! Why a fetch failed.

use std::net::SocketAddr;

/// Why a [`GuardedFetcher`](crate::GuardedFetcher) request failed, or a
/// [`NetworkGuard`](crate::NetworkGuard) rule could not be read.
///
/// The `Display` text says what to change; a model reading it as a tool result can act on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL (or a redirect target) cannot be parsed or has no host.
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The URL's scheme is not `http` or `https`.
    #[error("only http and https URLs are allowed, not `{0}:`")]
    UnsupportedScheme(String),
    /// An address the URL or a redirect target resolved to was refused; nothing was sent to
    /// it.
    #[error("refused to connect to `{host}` ({}): {reason}", address.ip().to_canonical())]
    Blocked {
        /// The URL (or redirect target) that was refused.
        url: String,
        /// The host as written in the URL.
        host: String,
        /// The refused address.
        address: SocketAddr,
        /// Why it was refused, e.g. `"loopback addresses are blocked"`.
        reason: String,
    },
    /// The host name could not be resolved.
    #[error("could not resolve `{host}`")]
    Resolve {
        /// The host name.
        host: String,
        /// The resolver's error.
        #[source]
        source: Option<std::io::Error>,
    },
    /// The server redirected more often than allowed.
    #[error("too many redirects (more than {0})")]
    TooManyRedirects(usize),
    /// Connecting, waiting between two reads, or the whole fetch took longer than allowed.
    #[error("request to {url} timed out")]
    Timeout {
        /// The URL requested.
        url: String,
    },
    /// The request failed: no connection, a broken response, a TLS error.
    #[error("request to {url} failed: {message}")]
    Http {
        /// The URL requested.
        url: String,
        /// What failed.
        message: String,
        /// The HTTP client's error.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// The server answered with a status other than success, where success was required
    /// ([`GuardedFetcher::get_all`](crate::GuardedFetcher::get_all)).
    #[error("request to {url} failed: the server answered {status}")]
    Status {
        /// The URL that answered.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The body is larger than allowed, where the whole body was required
    /// ([`GuardedFetcher::get_all`](crate::GuardedFetcher::get_all)).
    #[error("the response from {url} is too large: {}, the limit is {limit} bytes", size.map_or_else(|| "more than the limit".to_string(), |size| format!("{size} bytes")))]
    TooLarge {
        /// The URL that answered.
        url: String,
        /// The size, when declared (`Content-Length`); a streamed body is cut off as soon as
        /// it passes the limit.
        size: Option<u64>,
        /// The limit in bytes.
        limit: u64,
    },
    /// A [`NetworkGuard::allow`](crate::NetworkGuard::allow) entry cannot be read.
    #[error("`{entry}` is not an allowlist entry: {reason}")]
    InvalidRule {
        /// The entry as given.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
}
