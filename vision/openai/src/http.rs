//! One POST to the server with retries, timeouts and a cap on what is read back.

use std::error::Error as _;
use std::time::Duration;

use bytes_stream::ByteChunks;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::config::RemoteOptions;
use crate::error::{context_overflow, server_message, RemoteError, TimeoutPhase};
use argus_core::{shown_url, ModelError};

/// Error bodies are read up to this size for their message.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// The HTTP side of a remote model. Cheap to clone: the client is shared.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    /// The API base, ending in `/`.
    base: reqwest::Url,
    endpoint: reqwest::Url,
    /// The base URL without credentials, for messages.
    pub(crate) shown_url: String,
    authorization: Option<HeaderValue>,
    key_hint: String,
    model: String,
    retry: crate::config::RetryPolicy,
    connect: Duration,
    first_byte: Duration,
    pub(crate) idle: Duration,
    pub(crate) max_bytes: u64,
}

impl Http {
    pub(crate) fn new(options: &RemoteOptions) -> Result<Self, String> {
        let mut base = reqwest::Url::parse(options.base_url.trim())
            .map_err(|e| format!("`{}` is not a URL: {e}", shown_url(&options.base_url)))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(format!(
                "`{}` is not an http or https URL",
                shown_url(&options.base_url)
            ));
        }
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let endpoint = base
            .join("chat/completions")
            .map_err(|e| format!("cannot form the endpoint URL: {e}"))?;
        let shown_url = argus_core::shown_url(base.as_str().trim_end_matches('/'));
        let authorization = match &options.api_key {
            Some(key) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", key.secret()))
                    .map_err(|_| "the API key holds characters a header cannot".to_string())?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let key_hint = match options.api_key.as_ref().and_then(|k| k.variable()) {
            Some(variable) => format!("check the API key in ${variable}"),
            None if options.api_key.is_some() => "check the API key".into(),
            None => "the server wants an API key: set one (e.g. in $OPENAI_API_KEY)".into(),
        };
        let client = reqwest::Client::builder()
            .connect_timeout(options.timeouts.connect)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Http {
            client,
            base,
            endpoint,
            shown_url,
            authorization,
            key_hint,
            model: options.model.clone(),
            retry: options.retry,
            connect: options.timeouts.connect,
            first_byte: options.timeouts.first_byte,
            idle: options.timeouts.idle,
            max_bytes: options.max_response_bytes,
        })
    }

    /// Posts `body` to the chat endpoint, retrying what may be retried, until a successful
    /// response's headers arrive.
    pub(crate) async fn post(&self, body: &Value) -> Result<Response, ModelError> {
        // Written once; each attempt sends the same shared bytes.
        let body = bytes::Bytes::from(serde_json::to_vec(body).map_err(|e| {
            ModelError::InvalidRequest(format!("the request cannot be written as JSON: {e}"))
        })?);
        self.send(|| {
            self.client
                .post(self.endpoint.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone())
        })
        .await
    }

    /// Gets `{base}/{path}` with the same retries, timeouts and caps.
    pub(crate) async fn get(&self, path: &str) -> Result<Response, ModelError> {
        let url = self.base.join(path).map_err(|e| {
            ModelError::InvalidRequest(format!("cannot form the URL of `{path}`: {e}"))
        })?;
        self.send(|| self.client.get(url.clone())).await
    }

    /// Sends the request `build` makes, retrying what may be retried.
    async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Response, ModelError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut request = build();
            if let Some(authorization) = &self.authorization {
                request = request.header(AUTHORIZATION, authorization.clone());
            }
            let outcome = tokio::time::timeout(self.first_byte, request.send()).await;
            let retry_after = match outcome {
                Err(_) => return Err(self.timeout(TimeoutPhase::FirstByte).into()),
                Ok(Err(error)) => {
                    let error = self.send_error(&error);
                    match error {
                        RemoteError::Connect { .. } if attempt <= self.retry.max_retries => None,
                        other => return Err(other.into()),
                    }
                }
                Ok(Ok(response)) if response.status().is_success() => {
                    self.check_length(&response)?;
                    return Ok(response);
                }
                Ok(Ok(response)) => {
                    let status = response.status();
                    let retryable =
                        status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    let retry_after = retry_after(&response);
                    let body = self.error_body(response).await;
                    if !retryable || attempt > self.retry.max_retries {
                        return Err(self.status_error(status, &body, attempt));
                    }
                    tracing::debug!(
                        url = %self.shown_url,
                        status = status.as_u16(),
                        attempt,
                        "retrying the model request"
                    );
                    retry_after
                }
            };
            let backoff = self.retry.backoff(attempt - 1);
            let delay = retry_after
                .map(|d| d.min(self.retry.max_backoff))
                .unwrap_or(backoff);
            tokio::time::sleep(delay).await;
        }
    }

    /// Reads a whole body within the idle timeout and the size cap.
    pub(crate) async fn read_body(&self, mut response: Response) -> Result<Vec<u8>, RemoteError> {
        let mut body = Vec::new();
        loop {
            match tokio::time::timeout(self.idle, response.chunk()).await {
                Err(_) => return Err(self.timeout(TimeoutPhase::Idle)),
                Ok(Err(error)) => return Err(self.stream_error(&error)),
                Ok(Ok(None)) => return Ok(body),
                Ok(Ok(Some(chunk))) => {
                    if body.len() as u64 + chunk.len() as u64 > self.max_bytes {
                        return Err(self.too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
            }
        }
    }

    /// The body of a successful streamed response as capped, idle-timed chunks.
    pub(crate) fn chunks(&self, response: Response) -> ByteChunks {
        ByteChunks::new(response, self.idle, self.max_bytes)
    }

    fn check_length(&self, response: &Response) -> Result<(), RemoteError> {
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        match declared {
            Some(length) if length > self.max_bytes => Err(self.too_large()),
            _ => Ok(()),
        }
    }

    /// An error body, read up to [`MAX_ERROR_BODY`] bytes (less if it stalls).
    async fn error_body(&self, mut response: Response) -> Vec<u8> {
        let mut body = Vec::new();
        while let Ok(Ok(Some(chunk))) = tokio::time::timeout(self.idle, response.chunk()).await {
            body.extend_from_slice(&chunk);
            if body.len() as u64 >= MAX_ERROR_BODY {
                body.truncate(MAX_ERROR_BODY as usize);
                break;
            }
        }
        body
    }

    fn status_error(&self, status: StatusCode, body: &[u8], attempts: u32) -> ModelError {
        let message = server_message(body);
        let url = self.shown_url.clone();
        let code = status.as_u16();
        let error = match code {
            401 | 403 => RemoteError::Unauthorized {
                url,
                status: code,
                message,
                hint: self.key_hint.clone(),
            },
            404 => RemoteError::ModelNotFound {
                url,
                model: self.model.clone(),
                message,
            },
            429 => RemoteError::RateLimited {
                url,
                attempts,
                message,
            },
            500..=599 => RemoteError::Server {
                url,
                status: code,
                attempts,
                message,
            },
            _ => match context_overflow(body, &message) {
                Some(Some(overflow)) => return overflow,
                Some(None) => RemoteError::ContextTooLong { url, message },
                None => RemoteError::Rejected {
                    url,
                    status: code,
                    message,
                },
            },
        };
        error.into()
    }

    /// Classifies a failure to send: DNS, TLS or the connection itself.
    fn send_error(&self, error: &reqwest::Error) -> RemoteError {
        let url = self.shown_url.clone();
        let chain = error_chain(error);
        let lower = chain.to_ascii_lowercase();
        if lower.contains("dns error")
            || lower.contains("failed to lookup address")
            || lower.contains("name or service not known")
        {
            RemoteError::Dns { url, reason: chain }
        } else if self.endpoint.scheme() == "https" && is_tls_failure(&lower) {
            RemoteError::Tls { url, reason: chain }
        } else if error.is_timeout() {
            RemoteError::Connect {
                url,
                reason: format!("no connection within {} s", self.connect.as_secs_f64()),
            }
        } else {
            RemoteError::Connect { url, reason: chain }
        }
    }

    pub(crate) fn stream_error(&self, error: &reqwest::Error) -> RemoteError {
        RemoteError::Stream {
            url: self.shown_url.clone(),
            reason: error_chain(error),
        }
    }

    pub(crate) fn timeout(&self, phase: TimeoutPhase) -> RemoteError {
        RemoteError::Timeout {
            url: self.shown_url.clone(),
            phase,
            after: match phase {
                TimeoutPhase::FirstByte => self.first_byte,
                TimeoutPhase::Idle => self.idle,
            },
        }
    }

    pub(crate) fn too_large(&self) -> RemoteError {
        RemoteError::TooLarge {
            url: self.shown_url.clone(),
            limit: self.max_bytes,
        }
    }
}

/// Whether a connection failure's text is rustls's: a certificate, an alert, or bytes that are
/// not TLS (rustls's error type is not public through reqwest, so its messages are matched).
fn is_tls_failure(lower: &str) -> bool {
    [
        "certificate",
        "tls",
        "handshake",
        "corrupt message",
        "fatal alert",
        "peer is incompatible",
        "peer misbehaved",
    ]
    .iter()
    .any(|marker| lower.contains(marker))
}

/// `Retry-After` in seconds (HTTP dates are rare from inference servers and fall back to the
/// backoff).
fn retry_after(response: &Response) -> Option<Duration> {
    let seconds: f64 = response
        .headers()
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// What failed and its causes, joined by `: `. reqwest's own message is left out: it quotes
/// the URL, which may carry credentials.
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = String::from(if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "reading the response failed"
    } else {
        "the request failed"
    });
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The body of a streamed response as a stream of byte chunks, each within the idle timeout,
/// all within the size cap.
pub(crate) mod bytes_stream {
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use futures::Stream;

    /// Why the byte stream ended early.
    #[derive(Debug)]
    pub(crate) enum ChunkError {
        /// Nothing arrived within the idle timeout.
        Idle,
        /// The body grew past the cap.
        TooLarge,
        /// The connection failed.
        Http(reqwest::Error),
    }

    impl std::fmt::Display for ChunkError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                ChunkError::Idle => f.write_str("idle timeout"),
                ChunkError::TooLarge => f.write_str("response too large"),
                ChunkError::Http(e) => write!(f, "{e}"),
            }
        }
    }

    impl std::error::Error for ChunkError {}

    /// See the module documentation.
    pub(crate) struct ByteChunks {
        inner: Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
        idle: Duration,
        sleep: Pin<Box<tokio::time::Sleep>>,
        remaining: u64,
        done: bool,
    }

    impl ByteChunks {
        pub(crate) fn new(response: reqwest::Response, idle: Duration, max_bytes: u64) -> Self {
            ByteChunks {
                inner: Box::pin(response.bytes_stream()),
                idle,
                sleep: Box::pin(tokio::time::sleep(idle)),
                remaining: max_bytes,
                done: false,
            }
        }
    }

    impl Stream for ByteChunks {
        type Item = Result<bytes::Bytes, ChunkError>;

        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            if self.done {
                return Poll::Ready(None);
            }
            match self.inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    let idle = self.idle;
                    self.sleep
                        .as_mut()
                        .reset(tokio::time::Instant::now() + idle);
                    if chunk.len() as u64 > self.remaining {
                        self.done = true;
                        return Poll::Ready(Some(Err(ChunkError::TooLarge)));
                    }
                    self.remaining -= chunk.len() as u64;
                    Poll::Ready(Some(Ok(chunk)))
                }
                Poll::Ready(Some(Err(error))) => {
                    self.done = true;
                    Poll::Ready(Some(Err(ChunkError::Http(error))))
                }
                Poll::Ready(None) => {
                    self.done = true;
                    Poll::Ready(None)
                }
                Poll::Pending => match self.sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        self.done = true;
                        Poll::Ready(Some(Err(ChunkError::Idle)))
                    }
                    Poll::Pending => Poll::Pending,
                },
            }
        }
    }

    use std::future::Future as _;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_and_joined() {
        let http = Http::new(&RemoteOptions::new("http://127.0.0.1:8080/v1", "m")).unwrap();
        assert_eq!(
            http.endpoint.as_str(),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
        assert_eq!(http.shown_url, "http://127.0.0.1:8080/v1");
        let http = Http::new(&RemoteOptions::new("http://127.0.0.1:8080/v1/", "m")).unwrap();
        assert_eq!(
            http.endpoint.as_str(),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
        assert!(Http::new(&RemoteOptions::new("ftp://x/v1", "m")).is_err());
        assert!(Http::new(&RemoteOptions::new("nope", "m")).is_err());
    }

    /// A resolver that fails every lookup: fault injection, so that no test sends a DNS query.
    struct NoSuchHost;

    impl reqwest::dns::Resolve for NoSuchHost {
        fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
            Box::pin(async { Err("no such host (injected fault)".into()) })
        }
    }

    #[tokio::test]
    async fn a_host_that_does_not_resolve_is_a_dns_error_with_an_injected_resolver() {
        let mut http = Http::new(&RemoteOptions::new("http://model.invalid/v1", "m")).unwrap();
        http.client = reqwest::Client::builder()
            .dns_resolver(std::sync::Arc::new(NoSuchHost))
            .build()
            .unwrap();
        let error = http.post(&serde_json::json!({})).await.unwrap_err();
        let ModelError::Backend {
            source: Some(source),
            ..
        } = &error
        else {
            panic!("{error:?}")
        };
        let remote = source.downcast_ref::<RemoteError>().unwrap();
        assert!(matches!(remote, RemoteError::Dns { .. }), "{remote:?}");
        assert!(error.to_string().contains("no such host"), "{error}");
    }
}
