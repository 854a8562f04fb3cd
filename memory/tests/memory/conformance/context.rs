//! Context strategies: the same answer as `select_context` on the whole session, tool calls
//! never apart from their results, budgets respected.

use argus_core::{
    select_context, ContextStrategy, Message, NewSession, Role, TokenCounter, ToolCall,
};
use serde_json::json;

use crate::common::{image, step, tool_result};
use crate::fixture::TestDb;

/// A long session with system messages at the start and in the middle, tool-call units of
/// one to three calls, images and texts of varied length.
fn conversation_steps(units: usize) -> Vec<argus_core::StepRecord> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut steps = Vec::new();
    let mut index = 0;
    let mut push = |messages: Vec<Message>| {
        steps.push(step("run", index, messages, false));
        index += 1;
    };
    push(vec![Message::system("You are terse.")]);
    for unit in 0..units {
        let text = "word ".repeat((next() % 60) as usize);
        if unit % 97 == 50 {
            push(vec![Message::system(format!("Now {unit}: {text}"))]);
            continue;
        }
        match next() % 7 {
            0 | 1 => push(vec![Message::user(format!("q{unit} {text}"))]),
            2 => push(vec![Message::user_with_images(
                format!("look {unit}"),
                vec![image((unit % 3) as u8)],
            )]),
            3 => push(vec![Message::assistant(format!("a{unit} {text}"))]),
            _ => {
                let calls: Vec<ToolCall> = (0..1 + next() % 3)
                    .map(|c| ToolCall::new("lookup", json!({"unit": unit, "call": c})))
                    .collect();
                let mut messages = vec![Message::assistant_with_calls(text.clone(), calls.clone())];
                messages.extend(calls.iter().map(|c| tool_result(c, &text, None)));
                push(messages);
            }
        }
    }
    steps
}

fn assert_units_whole(context: &[Message]) {
    for (i, message) in context.iter().enumerate() {
        for (offset, call) in message.tool_calls.iter().enumerate() {
            let result = context
                .get(i + 1 + offset)
                .and_then(|m| m.tool_result.as_ref());
            assert_eq!(result.map(|r| r.call_id.as_str()), Some(call.id.as_str()));
        }
        if message.role == Role::Tool {
            assert!(
                i > 0 && (context[i - 1].role == Role::Tool || context[i - 1].has_tool_calls())
            );
        }
    }
}

pub(crate) async fn strategies_match_select_context_and_keep_units_whole(
    db: TestDb,
) -> anyhow::Result<()> {
    let memory = db.open().await?;
    let session = memory
        .create_session(NewSession::named("ctx", "Context"))
        .await?
        .id;
    let mut all = Vec::new();
    for record in conversation_steps(400) {
        memory.append_step(&session, &record).await?;
        all.extend(record.messages);
    }
    let system: Vec<&Message> = all.iter().filter(|m| m.role == Role::System).collect();
    assert!(
        system.len() > 2,
        "the session has system messages in the middle"
    );

    let estimate = TokenCounter::estimate();
    let counters = [
        estimate.clone(),
        TokenCounter::new(|m| m.text().len() + 10 * m.tool_calls.len()),
    ];
    let mut strategies = vec![ContextStrategy::Full];
    for n in [0, 1, 2, 3, 5, 8, 13, 50, 200, 10_000] {
        strategies.push(ContextStrategy::LastMessages(n));
    }
    for max_tokens in [0, 10, 100, 1_000, 3_000, 10_000, 50_000, 1_000_000] {
        for counter in &counters {
            strategies.push(ContextStrategy::TokenBudget {
                max_tokens,
                counter: counter.clone(),
            });
        }
    }

    for strategy in &strategies {
        let context = memory.load_context(&session, strategy).await?;
        assert_eq!(
            context,
            select_context(all.clone(), strategy),
            "{strategy:?}"
        );
        assert_units_whole(&context);
        // System messages are always kept.
        let kept_system = context.iter().filter(|m| m.role == Role::System).count();
        assert_eq!(kept_system, system.len());
        match strategy {
            ContextStrategy::LastMessages(n) => {
                assert!(context.len() - kept_system <= *n);
            }
            ContextStrategy::TokenBudget {
                max_tokens,
                counter,
            } => {
                let system_cost: usize = system.iter().map(|m| counter.count(m)).sum();
                let total: usize = context.iter().map(|m| counter.count(m)).sum();
                assert!(total <= (*max_tokens).max(system_cost), "{strategy:?}");
            }
            _ => assert_eq!(context.len(), all.len()),
        }
    }
    memory.close().await;
    db.assert_consistent().await
}
