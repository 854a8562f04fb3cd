//! Context strategies: which stored messages go into the next model call.

use std::fmt;
use std::sync::Arc;

use crate::message::{ContentPart, Message, Role};

/// Counts the tokens a message costs in a prompt.
#[derive(Clone)]
pub struct TokenCounter(Arc<dyn Fn(&Message) -> usize + Send + Sync>);

impl TokenCounter {
    /// A counter from a function (for example a tokenizer's).
    pub fn new(count: impl Fn(&Message) -> usize + Send + Sync + 'static) -> Self {
        TokenCounter(Arc::new(count))
    }

    /// A tokenizer-free estimate: 4 bytes of text per token, 4 tokens of framing per message,
    /// the arguments of each tool call, and a flat 1,600 tokens per image.
    pub fn estimate() -> Self {
        TokenCounter::new(|message| {
            let mut bytes = 16;
            let mut tokens = 0;
            for part in &message.content {
                match part {
                    ContentPart::Text { text } => bytes += text.len(),
                    ContentPart::Image { .. } => tokens += 1600,
                }
            }
            for call in &message.tool_calls {
                bytes += call.name.len() + call.arguments.to_string().len() + 16;
            }
            tokens + bytes.div_ceil(4)
        })
    }

    /// Tokens of `message`.
    pub fn count(&self, message: &Message) -> usize {
        (self.0)(message)
    }
}

impl fmt::Debug for TokenCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenCounter")
    }
}

/// Which stored messages go into the next model call.
///
/// Every strategy keeps system messages, and keeps an assistant message that calls tools
/// together with the tool results that answer it (a unit is kept whole or dropped whole).
#[derive(Debug, Clone, Default)]
pub enum ContextStrategy {
    /// Everything.
    #[default]
    Full,
    /// The most recent messages, at most this many (system messages not counted).
    LastMessages(usize),
    /// The most recent messages whose tokens, with the system messages', fit the budget.
    TokenBudget {
        /// Token budget for the whole context.
        max_tokens: usize,
        /// How tokens are counted.
        counter: TokenCounter,
    },
}

/// Applies `strategy` to a session's messages (in order), returning the context in order.
pub fn select_context(messages: Vec<Message>, strategy: &ContextStrategy) -> Vec<Message> {
    let (limit, counter): (usize, Option<&TokenCounter>) = match strategy {
        ContextStrategy::Full => return messages,
        ContextStrategy::LastMessages(n) => (*n, None),
        ContextStrategy::TokenBudget {
            max_tokens,
            counter,
        } => (*max_tokens, Some(counter)),
    };
    let cost = |message: &Message| counter.map_or(1, |c| c.count(message));

    let mut budget = limit;
    if counter.is_some() {
        let system: usize = messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(&cost)
            .sum();
        budget = budget.saturating_sub(system);
    }

    // Walk units from the end: a unit is one message, or an assistant message with tool calls
    // plus the tool messages that follow it.
    let mut keep = vec![false; messages.len()];
    let mut end = messages.len();
    let mut full = false;
    while end > 0 && !full {
        let mut start = end - 1;
        if messages[start].role == Role::System {
            end = start;
            continue;
        }
        while start > 0 && messages[start].role == Role::Tool {
            start -= 1;
        }
        if messages[start].role == Role::System {
            // Tool results without their call cannot be sent alone.
            start += 1;
        }
        let unit_cost: usize = messages[start..end]
            .iter()
            .filter(|m| m.role != Role::System)
            .map(&cost)
            .sum();
        if unit_cost <= budget && messages[start].role != Role::Tool {
            budget -= unit_cost;
            keep[start..end].iter_mut().for_each(|k| *k = true);
        } else {
            full = true;
        }
        end = start;
    }
    messages
        .into_iter()
        .zip(keep)
        .filter(|(message, keep)| *keep || message.role == Role::System)
        .map(|(message, _)| message)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::message::{ToolCall, ToolResultInfo};
    use proptest::prelude::*;
    use serde_json::json;

    fn tool_result(call: &ToolCall) -> Message {
        Message::tool_result(
            ToolResultInfo {
                call_id: call.id.clone(),
                name: call.name.clone(),
                error: None,
                duration_us: 0,
            },
            "ok",
        )
    }

    fn conversation() -> Vec<Message> {
        let a = ToolCall::new("a", json!({}));
        let b = ToolCall::new("b", json!({}));
        vec![
            Message::system("sys"),
            Message::user("q1"),
            Message::assistant_with_calls("", vec![a.clone(), b.clone()]),
            tool_result(&a),
            tool_result(&b),
            Message::assistant("a1"),
            Message::user("q2"),
        ]
    }

    fn texts(messages: &[Message]) -> Vec<String> {
        messages
            .iter()
            .map(|m| format!("{}:{}", m.role.as_str(), m.text()))
            .collect()
    }

    #[test]
    fn last_messages_keeps_system_and_whole_tool_units() {
        let context = select_context(conversation(), &ContextStrategy::LastMessages(3));
        assert_eq!(texts(&context), ["system:sys", "assistant:a1", "user:q2"]);
        let context = select_context(conversation(), &ContextStrategy::LastMessages(5));
        assert_eq!(
            texts(&context),
            [
                "system:sys",
                "assistant:",
                "tool:ok",
                "tool:ok",
                "assistant:a1",
                "user:q2"
            ]
        );
    }

    #[test]
    fn token_budget_counts_system_first() {
        let strategy = ContextStrategy::TokenBudget {
            max_tokens: 3,
            counter: TokenCounter::new(|_| 1),
        };
        let context = select_context(conversation(), &strategy);
        assert_eq!(texts(&context), ["system:sys", "assistant:a1", "user:q2"]);
    }

    #[test]
    fn full_keeps_everything() {
        assert_eq!(
            select_context(conversation(), &ContextStrategy::Full).len(),
            7
        );
    }

    fn arbitrary_conversation() -> impl Strategy<Value = Vec<Message>> {
        proptest::collection::vec((0u8..4, 1usize..4, 0usize..40), 0..40).prop_map(|units| {
            let mut messages = vec![Message::system("s")];
            for (kind, calls, len) in units {
                let text = "x".repeat(len);
                match kind {
                    0 => messages.push(Message::user(text)),
                    1 => messages.push(Message::assistant(text)),
                    _ => {
                        let calls: Vec<_> =
                            (0..calls).map(|_| ToolCall::new("t", json!({}))).collect();
                        messages.push(Message::assistant_with_calls(text, calls.clone()));
                        messages.extend(calls.iter().map(tool_result));
                    }
                }
            }
            messages
        })
    }

    proptest! {
        #[test]
        fn budget_is_respected_and_calls_stay_with_results(
            messages in arbitrary_conversation(),
            budget in 0usize..400,
        ) {
            let counter = TokenCounter::estimate();
            let strategy = ContextStrategy::TokenBudget { max_tokens: budget, counter: counter.clone() };
            let context = select_context(messages.clone(), &strategy);
            let system_cost = counter.count(&messages[0]);
            let total: usize = context.iter().map(|m| counter.count(m)).sum();
            prop_assert!(total <= budget.max(system_cost));
            prop_assert_eq!(context[0].role, Role::System);
            // Every tool call in the context has all its results, and every result its call.
            for (i, message) in context.iter().enumerate() {
                for (offset, call) in message.tool_calls.iter().enumerate() {
                    let result = context.get(i + 1 + offset).and_then(|m| m.tool_result.as_ref());
                    prop_assert_eq!(result.map(|r| r.call_id.as_str()), Some(call.id.as_str()));
                }
                if message.role == Role::Tool {
                    prop_assert!(i > 0 && (context[i - 1].role == Role::Tool || context[i - 1].has_tool_calls()));
                }
            }
            // The kept messages are a suffix of the non-system messages.
            let rest: Vec<_> = messages.iter().filter(|m| m.role != Role::System).collect();
            let kept: Vec<_> = context.iter().filter(|m| m.role != Role::System).collect();
            prop_assert_eq!(&rest[rest.len() - kept.len()..], &kept[..]);
        }
    }
}
