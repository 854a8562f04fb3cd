//! Inputs every memory backend's tests share.

use proptest::prelude::*;
use serde_json::json;

use crate::message::{Message, ToolCall, ToolResultInfo};

/// Conversations with system messages anywhere and stray tool results (which stores written
/// before tool results were checked may hold): property tests of a context walk over them
/// reach every branch of [`select_context`](crate::select_context).
pub fn any_conversation() -> impl Strategy<Value = Vec<Message>> {
    proptest::collection::vec((0u8..6, 1usize..4, 0usize..40), 0..40).prop_map(|units| {
        let mut messages = Vec::new();
        for (kind, calls, len) in units {
            let text = "x".repeat(len);
            match kind {
                0 => messages.push(Message::system(text)),
                1 => messages.push(Message::user(text)),
                2 => messages.push(Message::assistant(text)),
                3 => messages.push(ok_result(&ToolCall::new("stray", json!({})))),
                _ => {
                    let calls: Vec<_> = (0..calls).map(|_| ToolCall::new("t", json!({}))).collect();
                    messages.push(Message::assistant_with_calls(text, calls.clone()));
                    messages.extend(calls.iter().map(ok_result));
                }
            }
        }
        messages
    })
}

/// A successful result `ok` answering `call`.
pub(crate) fn ok_result(call: &ToolCall) -> Message {
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
