//! Token counts and timings of model calls.

use serde::{Deserialize, Serialize};

/// Token counts and timings of one or more model calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// Prompt tokens served from a prefix cache, when the model reports it.
    #[serde(default)]
    pub cached_prompt_tokens: u64,
    /// Time spent on the prompt, in milliseconds.
    #[serde(default)]
    pub prompt_ms: f64,
    /// Time spent generating, in milliseconds.
    #[serde(default)]
    pub completion_ms: f64,
}

impl Usage {
    /// Usage of `prompt_tokens` in and `completion_tokens` out, with no cache hits or timings.
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Usage {
            prompt_tokens,
            completion_tokens,
            ..Usage::default()
        }
    }

    /// Sets the prompt tokens served from a prefix cache.
    pub fn with_cached_prompt_tokens(mut self, tokens: u64) -> Self {
        self.cached_prompt_tokens = tokens;
        self
    }

    /// Sets the time spent on the prompt and on generating, in milliseconds.
    pub fn with_timings(mut self, prompt_ms: f64, completion_ms: f64) -> Self {
        self.prompt_ms = prompt_ms;
        self.completion_ms = completion_ms;
        self
    }

    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.cached_prompt_tokens += other.cached_prompt_tokens;
        self.prompt_ms += other.prompt_ms;
        self.completion_ms += other.completion_ms;
    }

    /// Prompt plus completion tokens.
    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_adds_up() {
        let mut total = Usage::default();
        let step = Usage::new(10, 3)
            .with_cached_prompt_tokens(4)
            .with_timings(1.5, 2.0);
        total.add(&step);
        total.add(&step);
        assert_eq!(total.prompt_tokens, 20);
        assert_eq!(total.total_tokens(), 26);
        assert_eq!(total.cached_prompt_tokens, 8);
        assert!((total.prompt_ms - 3.0).abs() < f64::EPSILON);
    }
}
