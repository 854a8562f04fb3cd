//! Context strategies: which stored messages go into the next model call, and the one walk
//! that chooses them, over a whole session or over the tail a store reads.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;

use super::MemoryError;
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
///
/// The walk: units (one message, or an assistant message with tool calls and the tool
/// results after it) are taken back from the end while they fit; the first unit that does
/// not fit ends it, and so do tool results with no call before them. System messages are
/// always kept.
pub fn select_context(messages: Vec<Message>, strategy: &ContextStrategy) -> Vec<Message> {
    let Some(keep_from) = whole_walk(&messages, strategy) else {
        return messages;
    };
    messages
        .into_iter()
        .enumerate()
        .filter(|(i, message)| *i >= keep_from || message.role == Role::System)
        .map(|(_, message)| message)
        .collect()
}

/// [`select_context`] over borrowed messages, cloning only those it keeps.
pub(crate) fn select_context_of(messages: &[Message], strategy: &ContextStrategy) -> Vec<Message> {
    let Some(keep_from) = whole_walk(messages, strategy) else {
        return messages.to_vec();
    };
    messages
        .iter()
        .enumerate()
        .filter(|(i, message)| *i >= keep_from || message.role == Role::System)
        .map(|(_, message)| message.clone())
        .collect()
}

/// Where the walk over a whole session starts keeping non-system messages; `None` for
/// [`ContextStrategy::Full`].
fn whole_walk(messages: &[Message], strategy: &ContextStrategy) -> Option<usize> {
    let limits = Limits::of(strategy)?;
    let system = messages.iter().filter(|m| m.role == Role::System);
    let budget = limits.budget(system);
    Some(walk_back(messages, budget, limits.counter).keep_from())
}

/// A strategy's limit and how it counts.
struct Limits<'a> {
    limit: usize,
    /// `None`: every message costs 1 and system messages are free.
    counter: Option<&'a TokenCounter>,
}

impl<'a> Limits<'a> {
    fn of(strategy: &'a ContextStrategy) -> Option<Self> {
        match strategy {
            ContextStrategy::Full => None,
            ContextStrategy::LastMessages(n) => Some(Limits {
                limit: *n,
                counter: None,
            }),
            ContextStrategy::TokenBudget {
                max_tokens,
                counter,
            } => Some(Limits {
                limit: *max_tokens,
                counter: Some(counter),
            }),
        }
    }

    /// What is left for the other messages once the session's system messages are paid for.
    fn budget<'m>(&self, system: impl Iterator<Item = &'m Message>) -> usize {
        match self.counter {
            Some(counter) => self
                .limit
                .saturating_sub(system.map(|m| counter.count(m)).sum()),
            None => self.limit,
        }
    }
}

/// Where a backward walk over the last messages of a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WalkEnd {
    /// At a unit that does not fit, or at tool results right after a system message: the
    /// context keeps the non-system messages from `keep_from` on, whatever came before.
    Stopped { keep_from: usize },
    /// At the first message walked, with the units from `keep_from` on fitting. The answer
    /// when the messages are the whole session; otherwise older messages may fit too.
    Exhausted { keep_from: usize },
}

impl WalkEnd {
    fn keep_from(self) -> usize {
        match self {
            WalkEnd::Stopped { keep_from } | WalkEnd::Exhausted { keep_from } => keep_from,
        }
    }
}

/// The walk of [`select_context`] over `messages`, the last messages of a session, with
/// `budget` for the non-system messages.
fn walk_back(messages: &[Message], mut budget: usize, counter: Option<&TokenCounter>) -> WalkEnd {
    let cost = |message: &Message| counter.map_or(1, |c| c.count(message));
    let mut end = messages.len();
    let mut keep_from = end;
    while end > 0 {
        let mut start = end - 1;
        if messages[start].role == Role::System {
            end = start;
            continue;
        }
        while start > 0 && messages[start].role == Role::Tool {
            start -= 1;
        }
        match messages[start].role {
            // Tool results without their call cannot be sent alone.
            Role::System => return WalkEnd::Stopped { keep_from },
            // Tool results at the first message: their call, if any, is older.
            Role::Tool => return WalkEnd::Exhausted { keep_from },
            Role::User | Role::Assistant => {}
        }
        let unit_cost: usize = messages[start..end].iter().map(cost).sum();
        if unit_cost > budget {
            return WalkEnd::Stopped { keep_from };
        }
        budget -= unit_cost;
        keep_from = start;
        end = start;
    }
    WalkEnd::Exhausted { keep_from }
}

/// Reads a session's stored messages for [`read_context`]: the storage side of the context
/// walk, one method per kind of read. Positions count the session's messages from 0.
#[async_trait]
pub trait MessageSource: Send {
    /// The messages at `positions`, in order.
    async fn messages(&mut self, positions: Range<u64>) -> Result<Vec<Message>, MemoryError>;

    /// The system messages at `positions`, in order, each with its position.
    async fn system_messages(
        &mut self,
        positions: Range<u64>,
    ) -> Result<Vec<(u64, Message)>, MemoryError>;
}

/// Messages read in the first chunk beyond what `LastMessages(n)` needs.
const SLACK: u64 = 16;
/// Messages read in the first chunk for a token budget: a 4,000-token budget of typical
/// messages fits, so one read usually decides.
const FIRST_BUDGET_CHUNK: u64 = 128;

/// The context of a session of `count` messages for `strategy`, reading only the tail of the
/// session it needs, with exactly the result of [`select_context`] on the whole session.
///
/// The walk stops at the first unit that does not fit. Once that stop lies inside the tail
/// read, older messages can change the answer only through system messages, which are always
/// kept and read on their own. So the tail is read in growing chunks until the walk stops
/// inside it. Stores that read messages by position implement [`MessageSource`] and call this
/// from [`RunLog::load_context`](super::RunLog::load_context).
pub async fn read_context<S: MessageSource + ?Sized>(
    source: &mut S,
    count: u64,
    strategy: &ContextStrategy,
) -> Result<Vec<Message>, MemoryError> {
    let first_chunk = match strategy {
        ContextStrategy::Full => count,
        ContextStrategy::LastMessages(n) => (*n as u64).saturating_add(SLACK),
        ContextStrategy::TokenBudget { .. } => FIRST_BUDGET_CHUNK,
    };
    read_context_in_chunks(source, count, strategy, first_chunk).await
}

/// [`read_context`] with the size of the first chunk chosen (each next chunk is four times the
/// last).
pub async fn read_context_in_chunks<S: MessageSource + ?Sized>(
    source: &mut S,
    count: u64,
    strategy: &ContextStrategy,
    first_chunk: u64,
) -> Result<Vec<Message>, MemoryError> {
    let Some(limits) = Limits::of(strategy) else {
        return source.messages(0..count).await;
    };
    let system = source.system_messages(0..count).await?;
    let budget = limits.budget(system.iter().map(|(_, m)| m));

    let mut start = count;
    let mut chunk = first_chunk.max(1);
    let mut tail: Vec<Message> = Vec::new();
    let keep_from = loop {
        let older_start = start.saturating_sub(chunk);
        let older = source.messages(older_start..start).await?;
        tail.splice(0..0, older);
        start = older_start;
        match walk_back(&tail, budget, limits.counter) {
            WalkEnd::Stopped { keep_from } => break keep_from,
            WalkEnd::Exhausted { keep_from } if start == 0 => break keep_from,
            WalkEnd::Exhausted { .. } => chunk = chunk.saturating_mul(4),
        }
    };

    let mut context: Vec<Message> = system
        .into_iter()
        .filter(|(position, _)| *position < start)
        .map(|(_, message)| message)
        .collect();
    context.extend(
        tail.into_iter()
            .enumerate()
            .filter(|(i, message)| *i >= keep_from || message.role == Role::System)
            .map(|(_, message)| message),
    );
    Ok(context)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::memory::any_conversation;
    use crate::memory::testing::ok_result as tool_result;
    use crate::message::ToolCall;
    use proptest::prelude::*;
    use serde_json::json;

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

    /// Messages held in a slice, read by position.
    struct Slice<'a> {
        messages: &'a [Message],
        reads: usize,
    }

    fn range(messages: &[Message], positions: Range<u64>) -> &[Message] {
        let end = (positions.end as usize).min(messages.len());
        &messages[(positions.start as usize).min(end)..end]
    }

    #[async_trait]
    impl MessageSource for Slice<'_> {
        async fn messages(&mut self, positions: Range<u64>) -> Result<Vec<Message>, MemoryError> {
            self.reads += 1;
            Ok(range(self.messages, positions).to_vec())
        }

        async fn system_messages(
            &mut self,
            positions: Range<u64>,
        ) -> Result<Vec<(u64, Message)>, MemoryError> {
            let start = positions.start;
            Ok(range(self.messages, positions)
                .iter()
                .enumerate()
                .filter(|(_, m)| m.role == Role::System)
                .map(|(i, m)| (start + i as u64, m.clone()))
                .collect())
        }
    }

    fn any_strategy() -> impl Strategy<Value = ContextStrategy> {
        prop_oneof![
            Just(ContextStrategy::Full),
            (0usize..30).prop_map(ContextStrategy::LastMessages),
            (0usize..400).prop_map(|max_tokens| ContextStrategy::TokenBudget {
                max_tokens,
                counter: TokenCounter::estimate(),
            }),
        ]
    }

    proptest! {
        /// Reading the tail in chunks of any size gives the walk over the whole session.
        #[test]
        fn reading_in_chunks_gives_the_whole_sessions_context(
            messages in any_conversation(),
            strategy in any_strategy(),
            first_chunk in 0u64..12,
        ) {
            let expected = select_context(messages.clone(), &strategy);
            prop_assert_eq!(&select_context_of(&messages, &strategy), &expected);
            let mut source = Slice { messages: &messages, reads: 0 };
            let count = messages.len() as u64;
            let got = futures::executor::block_on(
                read_context_in_chunks(&mut source, count, &strategy, first_chunk),
            ).unwrap();
            prop_assert_eq!(&got, &expected);
            let mut source = Slice { messages: &messages, reads: 0 };
            let got = futures::executor::block_on(read_context(&mut source, count, &strategy))
                .unwrap();
            prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn a_short_context_reads_one_chunk_of_a_long_session() {
        let mut messages = vec![Message::system("s")];
        for i in 0..1_000 {
            messages.push(Message::user(format!("q{i}")));
            messages.push(Message::assistant(format!("a{i}")));
        }
        let mut source = Slice {
            messages: &messages,
            reads: 0,
        };
        let strategy = ContextStrategy::LastMessages(4);
        let context = futures::executor::block_on(read_context(
            &mut source,
            messages.len() as u64,
            &strategy,
        ))
        .unwrap();
        assert_eq!(
            texts(&context),
            [
                "system:s",
                "user:q998",
                "assistant:a998",
                "user:q999",
                "assistant:a999"
            ]
        );
        assert_eq!(source.reads, 1);
    }
}
