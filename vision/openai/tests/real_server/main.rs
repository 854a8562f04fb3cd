//! The remote model against a real server: mistral.rs's own OpenAI-compatible server
//! (`mistralrs-server-core` 0.8.1, the engine version Argus runs in process), started on
//! 127.0.0.1 by each test, serving the generated tiny mllama and Gemma 3 270M.
//!
//! The Gemma tests need `ARGUS_GEMMA_GGUF`; without it they print why they are skipped and
//! pass, unless `ARGUS_REQUIRE_REAL_MODEL` or `CI` is set (as `.ci/run` does).

#![allow(missing_docs, clippy::unwrap_used)]

mod server;

use argus_core::{
    tool_fn, Agent, AgentEvent, ChatModel, ChatRequest, FinishReason, ImageRef, Message,
    StreamEvent, ToolChoice, ToolPromptFormat,
};
use argus_openai::{OpenAiModel, ToolCallMode};
use argus_vision::testkit::gemma_3_270m;
use argus_vision::testkit::ServedModel;
use futures::StreamExt;
use schemars::JsonSchema;
use serde::Deserialize;
use server::{model, start, tiny_mllama};

fn text_of(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

async fn collect(model: &OpenAiModel, request: ChatRequest) -> Vec<StreamEvent> {
    model
        .chat_stream(request)
        .await
        .unwrap()
        .map(|e| e.unwrap())
        .collect()
        .await
}

fn done(events: &[StreamEvent]) -> &argus_core::ChatResponse {
    match events.last() {
        Some(StreamEvent::Done { response }) => response,
        other => panic!("the stream did not end with Done: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn streamed_and_whole_answers_agree_and_carry_usage() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ServedModel::Multimodal(tiny_mllama(dir.path()))).await;
    let model = model(&server).build().unwrap();
    let request = ChatRequest::new(vec![Message::user("Say hello.")]).with_max_tokens(8);
    let events = collect(&model, request.clone()).await;
    let streamed = done(&events);
    assert_eq!(text_of(&events), streamed.message.text());
    assert!(streamed.usage.prompt_tokens > 0, "{:?}", streamed.usage);
    assert!(
        (1..=8).contains(&streamed.usage.completion_tokens),
        "{:?}",
        streamed.usage
    );
    let whole = model.chat(request).await.unwrap();
    assert_eq!(
        whole.message.text(),
        streamed.message.text(),
        "greedy both ways"
    );
    assert_eq!(whole.usage.prompt_tokens, streamed.usage.prompt_tokens);
    assert!(matches!(
        whole.finish_reason,
        FinishReason::Length | FinishReason::Stop
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_reaches_the_tiny_mllama_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ServedModel::Multimodal(tiny_mllama(dir.path()))).await;
    let model = model(&server).build().unwrap();
    let text_only =
        ChatRequest::new(vec![Message::user("What is in the picture?")]).with_max_tokens(4);
    let without = model.chat(text_only).await.unwrap();
    let image = ImageRef::from_bytes(server::png(96, 64), "image/png");
    let with_image = ChatRequest::new(vec![Message::user_with_images(
        "What is in the picture?",
        vec![image],
    )])
    .with_max_tokens(4);
    let with = model.chat(with_image).await.unwrap();
    assert!(
        with.usage.prompt_tokens > without.usage.prompt_tokens,
        "the image token is part of the prompt: {} vs {}",
        with.usage.prompt_tokens,
        without.usage.prompt_tokens
    );
}

/// Arguments of the test calculator.
#[derive(Debug, Deserialize, JsonSchema)]
struct Calc {
    /// An arithmetic expression.
    #[schemars(length(max = 12))]
    expression: String,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tool_call_round_trips_through_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ServedModel::Multimodal(tiny_mllama(dir.path()))).await;
    // mistral.rs's server returns Llama calls as text unless the whole answer is one; Argus
    // parses them, and a forced call is constrained by `response_format`, so even random
    // weights write a valid call.
    let model = model(&server)
        .with_tool_calls(ToolCallMode::Text(ToolPromptFormat::Llama31Json))
        .build()
        .unwrap();
    let agent = Agent::builder()
        .model(model)
        .tool(tool_fn(
            "calculator",
            "Evaluates arithmetic.",
            |args: Calc| async move { Ok::<_, String>(format!("evaluated {}", args.expression)) },
        ))
        .tool_choice(ToolChoice::Required)
        .max_tokens(24)
        .max_steps(2)
        .build()
        .unwrap();
    let output = agent.run("What is 6 times 7?").await;
    let trace = match &output {
        Ok(output) => &output.trace,
        Err(error) => error.trace().unwrap(),
    };
    let first = &trace.steps[0];
    let call = &first.assistant().tool_calls[0];
    assert_eq!(call.name, "calculator");
    assert!(call.arguments["expression"].is_string(), "{call:?}");
    let result = &first.tool_results()[0];
    assert_eq!(result.tool_result.as_ref().unwrap().call_id, call.id);
    assert!(result.text().starts_with("evaluated "), "{}", result.text());
    assert!(
        trace.steps.len() >= 2,
        "the result went back to the server: {trace:?}"
    );
    assert!(
        trace.steps[1].usage.prompt_tokens > first.usage.prompt_tokens,
        "the second prompt carries the call and its result"
    );
}

/// What the typed run asks for.
#[derive(Debug, Deserialize, JsonSchema)]
#[allow(dead_code)] // read through Debug
struct Reading {
    /// A label.
    #[schemars(length(max = 8))]
    label: String,
    /// A count.
    #[schemars(range(max = 99))]
    count: u8,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_typed_run_gets_a_valid_value_through_response_format() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ServedModel::Multimodal(tiny_mllama(dir.path()))).await;
    let agent = Agent::builder()
        .model(model(&server).build().unwrap())
        .max_tokens(64)
        .build()
        .unwrap();
    // Random weights: only the server's constraint makes this parse.
    let reading: Reading = agent.run_typed("Read the gauge.").await.unwrap();
    assert!(reading.count <= 99, "{reading:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_run_ends_at_once_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ServedModel::Multimodal(tiny_mllama(dir.path()))).await;
    let model = model(&server).build().unwrap();
    let agent = Agent::builder()
        .model(model.clone())
        .max_tokens(4000)
        .build()
        .unwrap();
    // Cancelled at its first streamed text: a random-weight model may hit its end token within
    // milliseconds, so a fixed delay could let the answer finish first.
    let mut events = agent.run_stream("Write a long story.");
    let mut last = None;
    while let Some(event) = events.next().await {
        if matches!(event, AgentEvent::TextDelta { .. }) {
            events.cancel();
        }
        last = Some(event);
    }
    assert!(
        matches!(
            last,
            Some(AgentEvent::Error {
                error: argus_core::AgentError::Cancelled { .. }
            })
        ),
        "{last:?}"
    );
    let next = model
        .chat(ChatRequest::new(vec![Message::user("hi")]).with_max_tokens(2))
        .await
        .unwrap();
    assert!(next.usage.completion_tokens >= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn gemma_streams_over_http() {
    let Some(dir) = gemma_3_270m("gemma_streams_over_http") else {
        return;
    };
    let server = start(ServedModel::Multimodal(dir)).await;
    let model = model(&server).build().unwrap();
    let request = ChatRequest::new(vec![Message::user(
        "Water is made of hydrogen and which other element?",
    )])
    .with_max_tokens(16);
    let events = collect(&model, request.clone()).await;
    let response = done(&events);
    assert!(!response.message.text().trim().is_empty());
    assert_eq!(text_of(&events), response.message.text());
    assert!(response.usage.completion_tokens <= 16);
    let whole = model.chat(request).await.unwrap();
    assert_eq!(whole.message.text(), response.message.text());
}
