//! Llama 3.2 Vision (mllama): an image, a grammar-forced calculator call, the agent loop.

use std::io::Cursor;

use argus_core::{
    validate_arguments, Agent, ChatModel, ChatRequest, Message, ToolChoice, VisionStrategy,
};
use argus_vision::ImageLoader;
use image::{DynamicImage, Rgb, RgbImage};

use super::{calculator, mllama, CallOnceThenAnswer};

fn photo() -> argus_core::ImageRef {
    photo_with_blue(128)
}

fn photo_with_blue(blue: u8) -> argus_core::ImageRef {
    let image = RgbImage::from_fn(96, 64, |x, y| Rgb([(x * 2) as u8, (y * 3) as u8, blue]));
    let mut png = Vec::new();
    DynamicImage::ImageRgb8(image)
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    ImageLoader::new().load_bytes(png).unwrap().reference
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_adds_prompt_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let model = mllama(dir.path()).await;
    assert!(model.accepts_images());
    let ask = |messages: Vec<Message>| ChatRequest::new(messages).with_max_tokens(4);
    let with = model
        .chat(ask(vec![Message::user_with_images(
            "What is this?",
            vec![photo()],
        )]))
        .await
        .unwrap();
    let without = model
        .chat(ask(vec![Message::user("What is this?")]))
        .await
        .unwrap();
    assert!(
        with.usage.prompt_tokens > without.usage.prompt_tokens,
        "with image {} vs without {}",
        with.usage.prompt_tokens,
        without.usage.prompt_tokens
    );
    assert!(with.usage.completion_tokens <= 4);

    // The decoded pixels are kept in the model's image cache for the next turn.
    let cache = model.image_cache();
    assert_eq!(cache.len(), 1);
    assert!(cache.bytes() > 0);
    // A reference without bytes is served from the cache, where an agent sharing it keeps the
    // conversation's images.
    let kept = photo_with_blue(7);
    cache.insert(&kept);
    let from_cache = model
        .chat(ask(vec![Message::user_with_images(
            "What is this?",
            vec![kept.without_data()],
        )]))
        .await
        .unwrap();
    assert_eq!(from_cache.usage.prompt_tokens, with.usage.prompt_tokens);
    assert_eq!(cache.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_call_is_dispatched_by_the_agent_and_the_run_ends_with_an_answer() {
    let dir = tempfile::tempdir().unwrap();
    let model = mllama(dir.path()).await;
    let tool = calculator();
    let schema = tool.spec().parameters.clone();
    let agent = Agent::builder()
        .model(CallOnceThenAnswer(model.clone()))
        .system_prompt("You are a careful assistant. Use the calculator for arithmetic.")
        .tool(tool)
        // The image and the tool schemas in one prompt (see tests/real_engine for the default,
        // perceive-then-act).
        .vision_strategy(VisionStrategy::Direct)
        // Enough for the longest call the grammar allows: 24 characters of `expr` (each up to
        // 4 byte-level tokens) plus the JSON around them.
        .max_tokens(160)
        .max_steps(4)
        .build()
        .unwrap();
    let output = agent
        .run(Message::user_with_images(
            "How many red squares are in the picture plus 3? Use the calculator.",
            vec![photo()],
        ))
        .await
        .unwrap();
    let steps = &output.trace.steps;
    assert_eq!(steps.len(), 2, "{steps:#?}");
    // Step 1: exactly one call of the registered tool, with schema-valid arguments.
    let calls = &steps[0].assistant().tool_calls;
    assert_eq!(calls.len(), 1, "{:#?}", steps[0]);
    assert_eq!(calls[0].name, "calculator");
    validate_arguments(&schema, &calls[0].arguments).unwrap();
    assert!(calls[0].arguments["expr"].as_str().unwrap().chars().count() <= 24);
    // The registry ran it and its result went back to the model.
    assert_eq!(steps[0].tool_results().len(), 1);
    assert_eq!(
        steps[0].tool_results()[0]
            .tool_result
            .as_ref()
            .unwrap()
            .call_id,
        calls[0].id
    );
    // Step 2: a final answer without calls.
    assert!(steps[1].assistant().tool_calls.is_empty());
    assert_eq!(output.answer, steps[1].assistant().text());
    assert!(steps[1].usage.prompt_tokens > steps[0].usage.prompt_tokens);
    // The prefix cache is on for this vision model: step 2 extends step 1's prompt.
    assert!(
        steps[1].usage.cached_prompt_tokens >= steps[0].usage.prompt_tokens,
        "{:?}",
        steps[1].usage
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn specific_tool_choice_names_the_tool() {
    let dir = tempfile::tempdir().unwrap();
    let model = mllama(dir.path()).await;
    let echo = argus_core::ToolSpec {
        name: "echo".into(),
        description: "Repeats a word.".into(),
        parameters: serde_json::json!({
            "type": "object",
            "properties": {"word": {"type": "string", "maxLength": 12}, "times": {"type": "integer", "minimum": 1, "maximum": 3}},
            "required": ["word", "times"]
        }),
    };
    let request = ChatRequest::new(vec![Message::user("Say hi twice.")])
        .with_tools(vec![calculator().spec().clone(), echo.clone()])
        .with_tool_choice(ToolChoice::Specific("echo".into()))
        .with_max_tokens(64);
    let response = model.chat(request).await.unwrap();
    let calls = &response.message.tool_calls;
    assert_eq!(calls.len(), 1, "{response:#?}");
    assert_eq!(calls[0].name, "echo");
    validate_arguments(&echo.parameters, &calls[0].arguments).unwrap();
    assert_eq!(response.finish_reason, argus_core::FinishReason::ToolCalls);
}
