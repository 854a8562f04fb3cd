//! The crate's error type: every way a built-in tool can fail.
//!
//! The `Display` text is what the model reads, so each message says what to change.

/// Why a built-in tool failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The calculator could not parse the expression.
    #[error("syntax error at character {position}: {message}")]
    Syntax {
        /// 1-based character position of the problem.
        position: usize,
        /// What was expected.
        message: String,
    },
    /// The calculator divided by zero (`/` or `%`).
    #[error("division by zero at character {position}")]
    DivisionByZero {
        /// 1-based character position of the operator.
        position: usize,
    },
    /// A calculation's result is infinite.
    #[error("the result overflows (is infinite) at character {position}")]
    Overflow {
        /// 1-based character position of the operation.
        position: usize,
    },
    /// A calculation's result is not a number, like `sqrt(-1)`.
    #[error("the result is undefined (not a number) at character {position}")]
    Undefined {
        /// 1-based character position of the operation.
        position: usize,
    },
    /// The time zone is not an IANA name.
    #[error("unknown time zone `{0}`: use an IANA name such as `Europe/Paris` or `UTC`")]
    UnknownTimeZone(String),
    /// A date-time argument could not be read.
    #[error(
        "cannot read `{0}` as a date-time: use RFC 3339 (`2024-05-01T12:00:00Z`), \
         `2024-05-01 12:00` or `2024-05-01`"
    )]
    InvalidDateTime(String),
    /// Date arithmetic left the representable range, or a local time does not exist.
    #[error("{0}")]
    DateOutOfRange(String),
    /// A URL could not be fetched: refused by the network guard, unreachable, too slow, or
    /// answered with an error.
    #[error(transparent)]
    Fetch(#[from] argus_ingest::FetchError),
    /// An image could not be read or decoded: not an image, truncated, corrupt, or over the
    /// pixel limit.
    #[error(transparent)]
    ImageLoad(#[from] argus_ingest::ImageLoadError),
    /// The response or file is not text.
    #[error("{0} is not text")]
    NotText(String),
    /// The path is absolute, has `..`, or leads out of the sandbox through a link.
    #[error("`{0}` is outside the sandbox: use a relative path without `..` inside it")]
    OutsideSandbox(String),
    /// A write would go through a symbolic link.
    #[error("`{0}` is a symbolic link; writing through links is refused")]
    SymlinkWrite(String),
    /// A file operation failed.
    #[error("`{path}`: {source}")]
    Io {
        /// The path as given.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Something is larger than a limit allows.
    #[error("{what} is too large ({actual}; the limit is {limit})")]
    TooLarge {
        /// What is too large.
        what: String,
        /// Its size.
        actual: String,
        /// The limit.
        limit: String,
    },
    /// An image region is invalid, or an image could not be encoded.
    #[error("image error: {0}")]
    Image(String),
    /// The tool was not configured for this kind of input (file paths, URLs).
    #[error("{0} are not enabled for this tool")]
    Disabled(&'static str),
    /// No image of the conversation (or shown by the tool) is the one asked for.
    #[error(
        "no image {0} in the conversation; pass #N, a sha256 of one of its images, a path or a URL"
    )]
    UnknownImage(String),
    /// The conversation has no session to search.
    #[error(
        "this conversation has no session; set `all_sessions` to true to search every session"
    )]
    NoSession,
    /// The memory backend failed.
    #[error("memory search failed: {0}")]
    Memory(#[from] argus_core::MemoryError),
    /// A background task crashed.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Runs blocking work (file system, image decoding) off the async threads.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, Error>
where
    F: FnOnce() -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| Error::Internal(error.to_string()))?
}
