//! The context window on the tiny mllama: a prompt that does not fit is a typed error before
//! the engine sees it, and generation is capped to the room the prompt leaves (past the window
//! mistral.rs 0.8.1 dies inside candle instead).

use argus_core::{ChatModel, ChatRequest, Message, ModelError, StreamEvent};
use argus_vision::testkit::{write_mllama, MllamaSpec};
use argus_vision::{MistralRsModel, ModelSource};
use futures::StreamExt as _;

/// A tiny mllama with a window of `window` tokens.
async fn with_window(dir: &std::path::Path, window: usize) -> MistralRsModel {
    let spec = MllamaSpec {
        max_position_embeddings: window,
        ..MllamaSpec::default()
    };
    write_mllama(dir, &spec).unwrap();
    MistralRsModel::builder(ModelSource::dir(dir))
        .build()
        .await
        .unwrap()
}

/// A question long enough to matter in a small window.
fn question(words: usize) -> ChatRequest {
    ChatRequest::new(vec![
        Message::system("Be brief."),
        Message::user("lorem ipsum ".repeat(words)),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_knows_its_window_and_counts_with_its_tokenizer() {
    let dir = tempfile::tempdir().unwrap();
    let model = with_window(dir.path(), 4096).await;
    assert_eq!(model.context_length(), Some(4096));
    let counter = model.token_counter().expect("a directory has a tokenizer");
    let short = counter.count(&Message::user("hi"));
    let long = counter.count(&Message::user("lorem ipsum ".repeat(50)));
    assert!(short < long, "{short} vs {long}");
    // The demo tokenizer is close to bytes: far more tokens than the 4-bytes-per-token estimate.
    let estimate =
        argus_core::TokenCounter::estimate().count(&Message::user("lorem ipsum ".repeat(50)));
    assert!(long > estimate, "{long} vs estimate {estimate}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_longer_than_the_window_is_refused_before_the_engine() {
    let big = tempfile::tempdir().unwrap();
    let small = tempfile::tempdir().unwrap();
    // The engine's own count of the prompt, on a model whose window holds it.
    let reference = with_window(big.path(), 4096).await;
    let request = question(40).with_max_tokens(4);
    let engine_count = reference
        .chat(request.clone())
        .await
        .unwrap()
        .usage
        .prompt_tokens as usize;

    let model = with_window(small.path(), 128).await;
    assert!(
        engine_count > 128,
        "the question must overflow: {engine_count}"
    );
    let sequences_before = model.prefix_cache_stats().1;
    match model.chat(request.clone()).await {
        Err(ModelError::ContextOverflow {
            prompt_tokens,
            limit,
        }) => {
            assert_eq!(prompt_tokens, engine_count, "counted as the engine counts");
            assert_eq!(limit, 127);
        }
        other => panic!("expected a context overflow, got {other:?}"),
    }
    match model.chat_stream(request).await {
        Err(ModelError::ContextOverflow { .. }) => {}
        Err(other) => panic!("expected a context overflow, got {other:?}"),
        Ok(_) => panic!("expected a context overflow, got a stream"),
    }
    assert_eq!(
        model.prefix_cache_stats().1,
        sequences_before,
        "the engine started no sequence"
    );
    // A question that fits does reach the engine (so the count above can tell).
    model.chat(question(1).with_max_tokens(1)).await.unwrap();
    assert!(model.prefix_cache_stats().1 > sequences_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generation_is_capped_to_what_is_left_of_the_window() {
    let big = tempfile::tempdir().unwrap();
    let small = tempfile::tempdir().unwrap();
    let reference = with_window(big.path(), 4096).await;
    let request = question(10).with_max_tokens(1);
    let prompt = reference.chat(request).await.unwrap().usage.prompt_tokens as usize;

    // Room for 3 tokens; the request asks for 500.
    let model = with_window(small.path(), prompt + 3).await;
    let request = question(10).with_max_tokens(500);
    let answer = model.chat(request.clone()).await.unwrap();
    assert!(answer.usage.completion_tokens <= 3, "{:?}", answer.usage);
    // Streamed the same way: the stream ends with `Done`, not an engine failure.
    let mut stream = model.chat_stream(request).await.unwrap();
    let mut done = None;
    while let Some(event) = stream.next().await {
        if let StreamEvent::Done { response } = event.unwrap() {
            done = Some(response);
        }
    }
    let done = done.expect("the stream finished");
    assert!(done.usage.completion_tokens <= 3, "{:?}", done.usage);
}
