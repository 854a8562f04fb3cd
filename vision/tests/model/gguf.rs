//! The llama GGUF text model: multi-turn with the prefix cache, streaming, forced calls.

use argus_core::{ChatModel, ChatRequest, FinishReason, Message, StreamEvent, ToolChoice};
use futures::StreamExt;

use super::{calculator, gguf};

fn conversation() -> Vec<Message> {
    vec![
        Message::system(
            "You are a helpful assistant. Answer briefly and precisely. When you are unsure, \
             say so. Keep every answer under three sentences.",
        ),
        Message::user("Hello! What can you tell me about the weather today?"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_turn_reuses_the_prefix_cache() {
    let dir = tempfile::tempdir().unwrap();
    let model = gguf(dir.path()).await;
    assert!(!model.accepts_images());
    let mut messages = conversation();
    let first = model
        .chat(ChatRequest::new(messages.clone()).with_max_tokens(12))
        .await
        .unwrap();
    assert_eq!(first.usage.cached_prompt_tokens, 0);
    assert!(first.usage.completion_tokens >= 1 && first.usage.completion_tokens <= 12);
    messages.push(first.message.clone());
    messages.push(Message::user("And tomorrow?"));
    let (hits_before, _) = model.prefix_cache_stats();
    let second = model
        .chat(ChatRequest::new(messages).with_max_tokens(12))
        .await
        .unwrap();
    let (hits_after, _) = model.prefix_cache_stats();
    assert_eq!(
        hits_after,
        hits_before + 1,
        "mistral.rs counted no prefix-cache hit"
    );
    assert!(second.usage.prompt_tokens > first.usage.prompt_tokens);
    assert!(
        second.usage.cached_prompt_tokens >= first.usage.prompt_tokens,
        "{:?} vs {:?}",
        second.usage,
        first.usage
    );
    // Fewer prompt tokens had to be processed than the prompt holds.
    let processed = second.usage.prompt_tokens - second.usage.cached_prompt_tokens;
    assert!(processed < first.usage.prompt_tokens, "{:?}", second.usage);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_deltas_add_up_to_the_final_text() {
    let dir = tempfile::tempdir().unwrap();
    let model = gguf(dir.path()).await;
    let request = ChatRequest::new(conversation()).with_max_tokens(24);
    let mut stream = model.chat_stream(request.clone()).await.unwrap();
    let mut deltas = Vec::new();
    let mut done = None;
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            StreamEvent::TextDelta { text } => deltas.push(text),
            StreamEvent::ToolCall { call } => panic!("unexpected call {call:?}"),
            StreamEvent::Done { response } => done = Some(response),
            other => panic!("unexpected event {other:?}"),
        }
    }
    let done = done.expect("the stream ended without Done");
    assert!(deltas.len() > 1, "expected several deltas, got {deltas:?}");
    assert_eq!(deltas.concat(), done.message.text());
    assert!(done.usage.completion_tokens > 0);
    assert!(done.usage.prompt_tokens > 0);
    // The same request without streaming gives the same (greedy) text.
    let whole = model.chat(request).await.unwrap();
    assert_eq!(whole.message.text().trim(), done.message.text().trim());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_forced_call_arrives_as_a_tool_call_event() {
    let dir = tempfile::tempdir().unwrap();
    let model = gguf(dir.path()).await;
    let request = ChatRequest::new(vec![Message::user("What is 2 + 3?")])
        .with_tools(vec![calculator().spec().clone()])
        .with_tool_choice(ToolChoice::Required)
        .with_max_tokens(96);
    let events: Vec<StreamEvent> = model
        .chat_stream(request)
        .await
        .unwrap()
        .map(|e| e.unwrap())
        .collect()
        .await;
    let calls: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCall { call } => Some(call),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 1, "{events:#?}");
    assert_eq!(calls[0].name, "calculator");
    let Some(StreamEvent::Done { response }) = events.last() else {
        panic!("no Done: {events:#?}");
    };
    assert_eq!(response.finish_reason, FinishReason::ToolCalls);
    assert_eq!(&response.message.tool_calls[0], calls[0]);
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, response.message.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_sent_to_a_text_model_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = gguf(dir.path()).await;
    let image = argus_core::ImageRef::from_bytes(vec![1, 2, 3], "image/png");
    let result = model
        .chat(ChatRequest::new(vec![Message::user_with_images(
            "hi",
            vec![image],
        )]))
        .await;
    assert!(
        matches!(result, Err(argus_core::ModelError::InvalidRequest(_))),
        "{result:?}"
    );
}
