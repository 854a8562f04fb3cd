//! The settings of a remote model: where the server is, the key, how tool calls travel,
//! timeouts, retries and caps.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use argus_core::{GrammarBounds, ToolPromptFormat};

/// An API key. Its `Debug` output names where it came from, never the key.
#[derive(Clone)]
pub struct ApiKey {
    secret: Arc<str>,
    variable: Option<String>,
}

impl ApiKey {
    /// A key given directly.
    pub fn new(secret: impl Into<String>) -> Self {
        ApiKey {
            secret: secret.into().into(),
            variable: None,
        }
    }

    /// The key in environment variable `variable`; `None` when it is unset or empty.
    pub fn from_env(variable: &str) -> Option<Self> {
        let secret = std::env::var(variable)
            .ok()
            .filter(|s| !s.trim().is_empty())?;
        Some(ApiKey {
            secret: secret.trim().into(),
            variable: Some(variable.to_string()),
        })
    }

    /// The environment variable the key was read from.
    pub fn variable(&self) -> Option<&str> {
        self.variable.as_deref()
    }

    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.variable {
            Some(variable) => write!(f, "ApiKey(from ${variable}, redacted)"),
            None => f.write_str("ApiKey(redacted)"),
        }
    }
}

/// How tool calls travel between Argus and the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolCallMode {
    /// The server parses calls itself: tools go in the request's `tools`, `tool_choice` and
    /// `parallel_tool_calls`, calls come back in `tool_calls` (vLLM with a tool parser, SGLang,
    /// llama.cpp with `--jinja`, Ollama, OpenAI).
    Native,
    /// The server returns plain text: the tools are described in the system prompt in this
    /// format, and Argus's own parser reads the calls out of the answer. A forced call is
    /// constrained with `response_format` (a JSON schema of the call) where the server honours it.
    Text(ToolPromptFormat),
}

/// How long to wait for the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To establish the connection. Default 10 s.
    pub connect: Duration,
    /// From sending the request to the response's headers. Default 300 s: a long prompt on a
    /// busy server can take minutes to start.
    pub first_byte: Duration,
    /// Between two parts of the body. Default 60 s.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(300),
            idle: Duration::from_secs(60),
        }
    }
}

/// Retries of a request that failed before any of its answer arrived: connection failures,
/// HTTP 429 (honouring `Retry-After`) and 5xx. A response whose body has started is never
/// retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt. Default 3; 0 turns retries off.
    pub max_retries: u32,
    /// The first delay; each retry doubles it, with random jitter. Default 500 ms.
    pub initial_backoff: Duration,
    /// The longest delay, also for a server's `Retry-After`. Default 30 s.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (0-based): exponential, with "equal jitter" (half
    /// fixed, half random) so that many clients do not retry in step.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let exponential = self
            .initial_backoff
            .saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
            .min(self.max_backoff);
        let half = exponential / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// Everything an [`OpenAiModel`](crate::OpenAiModel) is built from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RemoteOptions {
    /// The API base, e.g. `http://127.0.0.1:8000/v1`; requests go to `{base}/chat/completions`.
    pub base_url: String,
    /// The model name the server serves.
    pub model: String,
    /// Sent as `Authorization: Bearer …` when set.
    pub api_key: Option<ApiKey>,
    /// How tool calls travel. Default [`ToolCallMode::Native`].
    pub tool_calls: ToolCallMode,
    /// `parallel_tool_calls` sent with native tools, when set.
    pub parallel_tool_calls: Option<bool>,
    /// How long to wait.
    pub timeouts: Timeouts,
    /// What is retried and how often.
    pub retry: RetryPolicy,
    /// The model's context window, when known (the server checks it either way).
    pub context_length: Option<usize>,
    /// `max_tokens` when a request sets none. Default 512.
    pub default_max_tokens: u32,
    /// The largest response body read, streamed or not. Default 32 MiB.
    pub max_response_bytes: u64,
    /// Bounds of the forced-call schema in [`ToolCallMode::Text`].
    pub grammar: GrammarBounds,
}

impl RemoteOptions {
    /// Options for `model` at `base_url`, defaults otherwise.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        RemoteOptions {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            tool_calls: ToolCallMode::Native,
            parallel_tool_calls: None,
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            context_length: None,
            default_max_tokens: 512,
            max_response_bytes: 32 * 1024 * 1024,
            grammar: GrammarBounds::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_show_in_debug_output() {
        let key = ApiKey::new("sk-secret-123");
        assert_eq!(format!("{key:?}"), "ApiKey(redacted)");
        let options = RemoteOptions {
            api_key: Some(key),
            ..RemoteOptions::new("http://127.0.0.1:1/v1", "m")
        };
        assert!(!format!("{options:?}").contains("sk-secret"));
    }

    #[test]
    fn backoff_grows_with_jitter_and_stays_capped() {
        let policy = RetryPolicy {
            max_retries: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        for retry in 0..40 {
            let delay = policy.backoff(retry);
            let full = (Duration::from_millis(100) * 2u32.saturating_pow(retry.min(20)))
                .min(Duration::from_secs(1));
            assert!(delay >= full / 2 && delay <= full, "{retry}: {delay:?}");
        }
    }
}
