//! What can go wrong talking to a server, as typed errors that carry the server's own message.

use std::time::Duration;

use argus_core::ModelError;

/// A failure of a remote model call. It reaches the agent as [`ModelError::Backend`] with this
/// error as its source (downcast to inspect it), except a prompt longer than the server's
/// context window, which is [`ModelError::ContextOverflow`] when the server says by how much.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// Nothing accepts connections at the address (refused, unreachable, reset).
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The server's base URL, without credentials.
        url: String,
        /// What the connection attempt reported.
        reason: String,
    },
    /// The server's host name does not resolve.
    #[error("cannot resolve the host of {url}: {reason}")]
    Dns {
        /// The server's base URL, without credentials.
        url: String,
        /// What the resolver reported.
        reason: String,
    },
    /// The TLS handshake failed (certificate, protocol).
    #[error("TLS with {url} failed: {reason}")]
    Tls {
        /// The server's base URL, without credentials.
        url: String,
        /// What the handshake reported.
        reason: String,
    },
    /// The server refused the credentials (HTTP 401 or 403).
    #[error("{url} refused the request (HTTP {status}): {message}; {hint}")]
    Unauthorized {
        /// The server's base URL, without credentials.
        url: String,
        /// 401 or 403.
        status: u16,
        /// The server's message.
        message: String,
        /// Where the key comes from, e.g. "check the API key in OPENAI_API_KEY".
        hint: String,
    },
    /// The server does not know the model (HTTP 404).
    #[error("{url} has no model `{model}` (HTTP 404): {message}")]
    ModelNotFound {
        /// The server's base URL, without credentials.
        url: String,
        /// The model asked for.
        model: String,
        /// The server's message.
        message: String,
    },
    /// The prompt does not fit the server's context window, and the server did not say by how
    /// much (otherwise the error is [`ModelError::ContextOverflow`]).
    #[error("the prompt is too long for {url}: {message}")]
    ContextTooLong {
        /// The server's base URL, without credentials.
        url: String,
        /// The server's message.
        message: String,
    },
    /// The server rejected the request as invalid (HTTP 400, 422 and other 4xx).
    #[error("{url} rejected the request (HTTP {status}): {message}")]
    Rejected {
        /// The server's base URL, without credentials.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// Too many requests (HTTP 429), still after the retries.
    #[error("{url} is rate limiting (HTTP 429) after {attempts} attempts: {message}")]
    RateLimited {
        /// The server's base URL, without credentials.
        url: String,
        /// Requests sent.
        attempts: u32,
        /// The server's message.
        message: String,
    },
    /// The server failed (HTTP 5xx), still after the retries.
    #[error("{url} failed (HTTP {status}) after {attempts} attempts: {message}")]
    Server {
        /// The server's base URL, without credentials.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Requests sent.
        attempts: u32,
        /// The server's message.
        message: String,
    },
    /// The server went silent.
    #[error("{url} sent nothing for {} s while {phase}", .after.as_secs_f64())]
    Timeout {
        /// The server's base URL, without credentials.
        url: String,
        /// What Argus was waiting for.
        phase: TimeoutPhase,
        /// How long it waited.
        after: Duration,
    },
    /// The response is larger than the configured cap; the rest was not read.
    #[error("the response from {url} exceeds the {limit}-byte cap")]
    TooLarge {
        /// The server's base URL, without credentials.
        url: String,
        /// The cap in bytes.
        limit: u64,
    },
    /// The response stream broke off or carried an error.
    #[error("the response stream from {url} broke: {reason}")]
    Stream {
        /// The server's base URL, without credentials.
        url: String,
        /// What happened.
        reason: String,
    },
    /// The response is not a chat completion Argus can read.
    #[error("{url} sent a response that is not a chat completion: {reason}")]
    InvalidResponse {
        /// The server's base URL, without credentials.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// What a [`RemoteError::Timeout`] waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// The response's headers.
    FirstByte,
    /// The next part of the body.
    Idle,
}

impl std::fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutPhase::FirstByte => "waiting for the response to start",
            TimeoutPhase::Idle => "waiting for the rest of the response",
        })
    }
}

impl From<RemoteError> for ModelError {
    fn from(error: RemoteError) -> Self {
        ModelError::Backend {
            message: error.to_string(),
            source: Some(Box::new(error)),
        }
    }
}

/// The server's message out of an error body: OpenAI's `{"error": {"message": ..}}`, the
/// `{"error": "..."}` or `{"message": ..}` many servers send, else the body's text (shortened).
pub(crate) fn server_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) {
        let found = [
            json.pointer("/error/message"),
            json.get("error"),
            json.get("message"),
            json.get("detail"),
        ]
        .into_iter()
        .flatten()
        .find_map(|v| v.as_str().map(str::to_string));
        if let Some(message) = found {
            return one_line(&message);
        }
    }
    let text = one_line(text.trim());
    if text.is_empty() {
        "(no message)".into()
    } else {
        text
    }
}

/// `text` on one line, at most 500 characters.
fn one_line(text: &str) -> String {
    const MAX: usize = 500;
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    }
}

/// Whether a 4xx message says the prompt is too long, and by how much when it says so:
/// vLLM's "maximum context length is 4096 tokens. However, you requested 5000 tokens (4000 in
/// the messages, 1000 in the completion)", llama.cpp's `n_prompt_tokens` / `n_ctx`, and the
/// wording of others.
pub(crate) fn context_overflow(body: &[u8], message: &str) -> Option<Option<ModelError>> {
    let lower = message.to_ascii_lowercase();
    let says_so = lower.contains("context length")
        || lower.contains("context size")
        || lower.contains("context window")
        || lower.contains("maximum context")
        || lower.contains("too many tokens")
        || lower.contains("prompt is too long");
    if !says_so {
        return None;
    }
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let number = |key: &str| {
        json.as_ref()
            .and_then(|j| j.pointer(&format!("/error/{key}")).or_else(|| j.get(key)))
            .and_then(|v| v.as_u64())
            .map(|n| n as usize)
    };
    if let (Some(prompt_tokens), Some(limit)) = (number("n_prompt_tokens"), number("n_ctx")) {
        return Some(Some(ModelError::ContextOverflow {
            prompt_tokens,
            limit,
        }));
    }
    let limit = number_after(&lower, "maximum context length is ");
    let prompt_tokens = number_before(&lower, " in the messages");
    Some(match (prompt_tokens, limit) {
        (Some(prompt_tokens), Some(limit)) => Some(ModelError::ContextOverflow {
            prompt_tokens,
            limit,
        }),
        _ => None,
    })
}

fn number_after(text: &str, marker: &str) -> Option<usize> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn number_before(text: &str, marker: &str) -> Option<usize> {
    let before = &text[..text.find(marker)?];
    let digits: String = before
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_are_found_in_the_usual_shapes() {
        assert_eq!(
            server_message(br#"{"error":{"message":"bad key","type":"auth"}}"#),
            "bad key"
        );
        assert_eq!(
            server_message(br#"{"error":"no such model"}"#),
            "no such model"
        );
        assert_eq!(server_message(br#"{"detail":"Not Found"}"#), "Not Found");
        assert_eq!(
            server_message(b"upstream\n  timed out"),
            "upstream timed out"
        );
        assert_eq!(server_message(b""), "(no message)");
        assert!(server_message(&[b'x'; 2000]).chars().count() <= 501);
    }

    #[test]
    fn context_overflow_is_read_from_vllm_and_llama_cpp() {
        let vllm = "This model's maximum context length is 4096 tokens. However, you requested \
                    5000 tokens (4000 in the messages, 1000 in the completion).";
        let found = context_overflow(vllm.as_bytes(), vllm);
        assert!(matches!(
            found,
            Some(Some(ModelError::ContextOverflow {
                prompt_tokens: 4000,
                limit: 4096
            }))
        ));
        let llama = br#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error","n_prompt_tokens":9000,"n_ctx":8192}}"#;
        let found = context_overflow(llama, &server_message(llama));
        assert!(matches!(
            found,
            Some(Some(ModelError::ContextOverflow {
                prompt_tokens: 9000,
                limit: 8192
            }))
        ));
        let vague = "prompt is too long";
        assert!(matches!(
            context_overflow(vague.as_bytes(), vague),
            Some(None)
        ));
        assert!(context_overflow(b"", "unknown field `foo`").is_none());
    }
}
