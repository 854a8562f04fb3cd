//! Context loading that reads only the tail of a session it needs, with the exact result of
//! [`argus_core::select_context`] on the whole session.
//!
//! `select_context` walks units (a message, or an assistant message with tool calls and its
//! tool results) back from the end and stops at the first unit that does not fit. Once that
//! stop is inside the loaded tail, older messages cannot change the answer except through
//! system messages, which are always kept and are loaded on their own through a partial
//! index. So the tail is loaded in growing chunks until the walk stops inside it.

use argus_core::{select_context, ContextStrategy, MemoryError, Message, Role};
use sqlx::SqliteConnection;

use crate::rows::{load_messages, Selection};

/// Messages read in the first chunk beyond what `LastMessages(n)` needs.
const SLACK: u64 = 16;
/// Messages read in the first chunk for a token budget: a 4,000-token budget of typical
/// messages fits, so one read usually decides.
const FIRST_BUDGET_CHUNK: u64 = 128;

/// The context of a session of `count` messages for `strategy`.
pub(crate) async fn load_context(
    conn: &mut SqliteConnection,
    session_seq: i64,
    count: u64,
    strategy: &ContextStrategy,
) -> Result<Vec<Message>, MemoryError> {
    let first_chunk = match strategy {
        ContextStrategy::Full => count,
        ContextStrategy::LastMessages(n) => (*n as u64).saturating_add(SLACK),
        ContextStrategy::TokenBudget { .. } => FIRST_BUDGET_CHUNK,
    };
    load_context_in_chunks(conn, session_seq, count, strategy, first_chunk).await
}

/// [`load_context`] with the first chunk size given (tests use tiny chunks).
pub(crate) async fn load_context_in_chunks(
    conn: &mut SqliteConnection,
    session_seq: i64,
    count: u64,
    strategy: &ContextStrategy,
    first_chunk: u64,
) -> Result<Vec<Message>, MemoryError> {
    if matches!(strategy, ContextStrategy::Full) {
        let all = load_messages(conn, session_seq, &Selection::range(0..count)).await?;
        return Ok(all.into_iter().map(|(_, m)| m).collect());
    }
    let system = load_messages(conn, session_seq, &Selection::system(0..count)).await?;
    let system_cost = match strategy {
        ContextStrategy::TokenBudget { counter, .. } => {
            system.iter().map(|(_, m)| counter.count(m)).sum()
        }
        _ => 0,
    };

    let mut start = count;
    let mut chunk = first_chunk.max(1);
    let mut tail: Vec<Message> = Vec::new();
    while start > 0 {
        let older_start = start.saturating_sub(chunk);
        let older = load_messages(conn, session_seq, &Selection::range(older_start..start)).await?;
        tail.splice(0..0, older.into_iter().map(|(_, m)| m));
        start = older_start;
        if walk_stops_inside(&tail, strategy, system_cost) {
            break;
        }
        chunk = chunk.saturating_mul(4);
    }

    let mut messages: Vec<Message> = system
        .into_iter()
        .filter(|(position, _)| *position < start)
        .map(|(_, m)| m)
        .collect();
    messages.append(&mut tail);
    Ok(select_context(messages, strategy))
}

/// Whether `select_context`'s backward walk over a session ending in `tail` stops at a unit
/// that lies wholly inside `tail`, so that messages before `tail` (other than system messages)
/// cannot matter. `system_cost` is the cost of all the session's system messages.
fn walk_stops_inside(tail: &[Message], strategy: &ContextStrategy, system_cost: usize) -> bool {
    let (mut budget, counter) = match strategy {
        ContextStrategy::LastMessages(n) => (*n, None),
        ContextStrategy::TokenBudget {
            max_tokens,
            counter,
        } => (max_tokens.saturating_sub(system_cost), Some(counter)),
        // Full never walks; any other strategy reads the whole session to be safe.
        _ => return false,
    };
    let cost = |message: &Message| counter.map_or(1, |c| c.count(message));
    let mut end = tail.len();
    while end > 0 {
        let mut start = end - 1;
        if tail[start].role == Role::System {
            end = start;
            continue;
        }
        while start > 0 && tail[start].role == Role::Tool {
            start -= 1;
        }
        match tail[start].role {
            // These tool results may belong to a call before the tail.
            Role::Tool => return false,
            // Tool results right after a system message have no call: the walk stops.
            Role::System => return true,
            Role::User | Role::Assistant => {}
        }
        let unit_cost: usize = tail[start..end].iter().map(cost).sum();
        if unit_cost > budget {
            return true;
        }
        budget -= unit_cost;
        end = start;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::{TokenCounter, ToolCall, ToolResultInfo};
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
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

    /// Conversations with system messages anywhere and stray tool results, to reach every
    /// branch of the walk.
    fn conversation() -> impl Strategy<Value = Vec<Message>> {
        proptest::collection::vec((0u8..6, 1usize..4, 0usize..40), 0..40).prop_map(|units| {
            let mut messages = Vec::new();
            for (kind, calls, len) in units {
                let text = "x".repeat(len);
                match kind {
                    0 => messages.push(Message::system(text)),
                    1 => messages.push(Message::user(text)),
                    2 => messages.push(Message::assistant(text)),
                    3 => messages.push(tool_result(&ToolCall::new("stray", json!({})))),
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

    fn strategy() -> impl Strategy<Value = ContextStrategy> {
        prop_oneof![
            (0usize..30).prop_map(ContextStrategy::LastMessages),
            (0usize..400).prop_map(|max_tokens| ContextStrategy::TokenBudget {
                max_tokens,
                counter: TokenCounter::estimate(),
            }),
        ]
    }

    proptest! {
        /// Whenever the walk is judged to stop inside a tail, the system messages before the
        /// tail plus the tail give the same context as the whole session.
        #[test]
        fn a_decided_tail_gives_the_full_answer(
            messages in conversation(),
            strategy in strategy(),
            cut in 0usize..40,
        ) {
            let start = cut.min(messages.len());
            let system_cost: usize = match &strategy {
                ContextStrategy::TokenBudget { counter, .. } => messages
                    .iter()
                    .filter(|m| m.role == Role::System)
                    .map(|m| counter.count(m))
                    .sum(),
                _ => 0,
            };
            let tail = &messages[start..];
            if walk_stops_inside(tail, &strategy, system_cost) {
                let mut partial: Vec<Message> = messages[..start]
                    .iter()
                    .filter(|m| m.role == Role::System)
                    .cloned()
                    .collect();
                partial.extend(tail.iter().cloned());
                prop_assert_eq!(
                    select_context(partial, &strategy),
                    select_context(messages.clone(), &strategy)
                );
            }
        }
    }

    /// Tiny first chunks force many chunk extensions across every kind of unit boundary.
    #[tokio::test]
    async fn chunked_loading_matches_select_context_for_any_chunk_size() {
        use argus_core::{Memory, NewSession, RunId, StepRecord};

        let memory = crate::SqliteMemory::in_memory().await.unwrap();
        let id = memory
            .create_session(NewSession::named("s", "S"))
            .await
            .unwrap()
            .id;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let mut all = Vec::new();
        for _ in 0..6 {
            all.extend(conversation().new_tree(&mut runner).unwrap().current());
        }
        let step = StepRecord {
            run_id: RunId::new("r"),
            index: 0,
            messages: all.clone(),
            usage: Default::default(),
            is_final: true,
        };
        memory.append_step(&id, &step).await.unwrap();

        let mut conn = memory.pools.reader.acquire().await.unwrap();
        let count = all.len() as u64;
        for first_chunk in [1, 2, 3, 5, 8] {
            for n in [0, 1, 2, 3, 4, 7, 20, 100] {
                let strategy = ContextStrategy::LastMessages(n);
                let got = load_context_in_chunks(&mut conn, 1, count, &strategy, first_chunk)
                    .await
                    .unwrap();
                assert_eq!(
                    got,
                    select_context(all.clone(), &strategy),
                    "{n} {first_chunk}"
                );
            }
            for max_tokens in [0, 5, 30, 100, 300, 1_000, 5_000] {
                let strategy = ContextStrategy::TokenBudget {
                    max_tokens,
                    counter: TokenCounter::estimate(),
                };
                let got = load_context_in_chunks(&mut conn, 1, count, &strategy, first_chunk)
                    .await
                    .unwrap();
                assert_eq!(got, select_context(all.clone(), &strategy), "{max_tokens}");
            }
        }
    }
}
