//! Token counts and timings from mistral.rs, and the prefix-cache estimate.

use std::collections::VecDeque;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use argus_core::{ChatRequest, ContentPart, Message, Usage};

/// mistral.rs's usage as argus [`Usage`] (without the cache estimate).
pub(crate) fn from_mistralrs(usage: &mistralrs::Usage) -> Usage {
    Usage::new(usage.prompt_tokens as u64, usage.completion_tokens as u64).with_timings(
        f64::from(usage.total_prompt_time_sec) * 1000.0,
        f64::from(usage.total_completion_time_sec) * 1000.0,
    )
}

/// One finished request, as the prefix cache saw it.
#[derive(Debug, Clone)]
struct Entry {
    tools: u64,
    messages: Vec<u64>,
    prompt_tokens: u64,
    completion_tokens: u64,
    output: u64,
}

/// Estimates how many prompt tokens mistral.rs served from its prefix cache.
///
/// mistral.rs reports *that* a request hit the cache (its hit counter) but not how many
/// tokens matched. When the counter says this request hit, the estimate is the prompt of the
/// most recent earlier request whose messages this request starts with, plus that request's
/// completion when the next message repeats its output verbatim (mistral.rs caches prompt and
/// generated tokens). Exact for a plain multi-turn chat; 0 when no earlier request is a prefix
/// (a hit on, say, a shared system prompt alone is not counted).
#[derive(Debug)]
pub(crate) struct PrefixTracker {
    capacity: usize,
    entries: Mutex<VecDeque<Entry>>,
}

impl PrefixTracker {
    pub(crate) fn new(capacity: usize) -> Self {
        PrefixTracker {
            capacity,
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// The estimated cached prompt tokens of `request`, given whether mistral.rs counted a
    /// prefix-cache hit for it.
    pub(crate) fn estimate(&self, request: &ChatRequest, hit: bool, prompt_tokens: u64) -> u64 {
        if !hit || self.capacity == 0 {
            return 0;
        }
        let tools = hash_of(&serde_json::to_string(&request.tools).unwrap_or_default());
        let messages: Vec<u64> = request.messages.iter().map(message_hash).collect();
        let Ok(entries) = self.entries.lock() else {
            return 0;
        };
        let best = entries
            .iter()
            .filter(|e| e.tools == tools && e.messages.len() < messages.len())
            .filter(|e| messages.starts_with(&e.messages))
            .map(|e| {
                let next = &request.messages[e.messages.len()];
                let repeats_output = next.role == argus_core::Role::Assistant
                    && next.tool_calls.is_empty()
                    && hash_of(&next.text()) == e.output;
                e.prompt_tokens
                    + if repeats_output {
                        e.completion_tokens
                    } else {
                        0
                    }
            })
            .max()
            .unwrap_or(0);
        best.min(prompt_tokens.saturating_sub(1))
    }

    /// Remembers a finished request (the cache keeps its prompt and generated tokens).
    pub(crate) fn record(&self, request: &ChatRequest, usage: &Usage, output: &str) {
        if self.capacity == 0 {
            return;
        }
        let entry = Entry {
            tools: hash_of(&serde_json::to_string(&request.tools).unwrap_or_default()),
            messages: request.messages.iter().map(message_hash).collect(),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            output: hash_of(output),
        };
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() == self.capacity {
                entries.pop_front();
            }
            entries.push_back(entry);
        }
    }
}

fn hash_of(value: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

fn message_hash(message: &Message) -> u64 {
    let mut hasher = DefaultHasher::new();
    message.role.as_str().hash(&mut hasher);
    for part in &message.content {
        match part {
            ContentPart::Text { text } => text.hash(&mut hasher),
            ContentPart::Image { image } => image.sha256.hash(&mut hasher),
            other => format!("{other:?}").hash(&mut hasher),
        }
    }
    for call in &message.tool_calls {
        call.name.hash(&mut hasher);
        call.arguments.to_string().hash(&mut hasher);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follow_up_turn_counts_the_earlier_prompt_and_answer() {
        let tracker = PrefixTracker::new(4);
        let turn1 = ChatRequest::new(vec![Message::system("s"), Message::user("a")]);
        let usage = Usage::new(20, 5);
        tracker.record(&turn1, &usage, "answer");
        let mut turn2 = turn1.clone();
        turn2.messages.push(Message::assistant("answer"));
        turn2.messages.push(Message::user("b"));
        assert_eq!(tracker.estimate(&turn2, true, 40), 25);
        assert_eq!(tracker.estimate(&turn2, false, 40), 0);
        let mut edited = turn2.messages.to_vec();
        edited[2] = Message::assistant("edited");
        turn2.messages = edited.into();
        assert_eq!(tracker.estimate(&turn2, true, 40), 20);
        let other = ChatRequest::new(vec![Message::user("unrelated"), Message::user("x")]);
        assert_eq!(tracker.estimate(&other, true, 40), 0);
    }
}
