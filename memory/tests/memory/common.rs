//! Sample conversations: steps, tool results, images.

use argus_core::{
    ImageRef, Message, RunId, StepRecord, ToolCall, ToolErrorKind, ToolResultInfo, Usage,
};
use serde_json::json;

pub(crate) fn step(run: &str, index: u32, messages: Vec<Message>, is_final: bool) -> StepRecord {
    StepRecord {
        run_id: RunId::new(run),
        index,
        messages,
        usage: Usage::default(),
        is_final,
    }
}

pub(crate) fn tool_result(call: &ToolCall, text: &str, error: Option<ToolErrorKind>) -> Message {
    Message::tool_result(
        ToolResultInfo {
            call_id: call.id.clone(),
            name: call.name.clone(),
            error,
            duration_us: 1_234,
        },
        text,
    )
}

/// A tiny valid PNG-ish payload with a given seed (the bytes only need to hash).
pub(crate) fn image(seed: u8) -> ImageRef {
    let bytes: Vec<u8> = (0..256u32).map(|i| (i as u8) ^ seed).collect();
    ImageRef::from_bytes(bytes, "image/png").with_dimensions(16, 16)
}

/// Two runs exercising everything a step can hold: text, images with and without bytes,
/// several text parts, tool calls with nested arguments, results with and without errors,
/// durations and usage.
pub(crate) fn rich_steps() -> Vec<StepRecord> {
    let picture = image(7);
    let add = ToolCall {
        id: "call_add".into(),
        name: "calculator".into(),
        arguments: json!({"expr": "2+2", "nested": {"list": [1, 2.5, null, true, "ü"]}, "big": u64::MAX}),
    };
    let clock = ToolCall {
        id: "call_clock".into(),
        name: "clock".into(),
        arguments: json!({}),
    };
    let crash = ToolCall::new("flaky", json!({"attempt": 3}));
    let mut multi = Message::user("first part, ");
    multi.content.push(argus_core::ContentPart::Image {
        image: image(9).without_data(),
    });
    multi.content.push(argus_core::ContentPart::Text {
        text: "second part ünïcödé 🎉".into(),
    });
    let usage = Usage::new(1_200, 37)
        .with_cached_prompt_tokens(1_024)
        .with_timings(12.5, 480.125);
    vec![
        step(
            "run-1",
            0,
            vec![
                Message::system("You are a careful assistant."),
                Message::user_with_images("What is in this picture?", vec![picture.clone()]),
            ],
            false,
        ),
        StepRecord {
            usage,
            ..step(
                "run-1",
                1,
                vec![
                    Message::assistant_with_calls(
                        "Let me check.",
                        vec![add.clone(), clock.clone()],
                    ),
                    tool_result(&add, "4", None),
                    tool_result(&clock, "timed out after 5s", Some(ToolErrorKind::Timeout)),
                ],
                false,
            )
        },
        StepRecord {
            usage,
            ..step(
                "run-1",
                2,
                vec![Message::assistant("It is 4, and a cat.")],
                true,
            )
        },
        step(
            "run-2",
            0,
            vec![
                Message::user_with_images("The same one again", vec![picture.without_data()]),
                multi,
                Message {
                    role: argus_core::Role::User,
                    content: Vec::new(),
                    tool_calls: Vec::new(),
                    tool_result: None,
                },
            ],
            false,
        ),
        StepRecord {
            usage,
            ..step(
                "run-2",
                1,
                vec![
                    Message::assistant_with_calls("", vec![crash.clone()]),
                    tool_result(&crash, "the tool panicked", Some(ToolErrorKind::Panicked)),
                ],
                false,
            )
        },
    ]
}
