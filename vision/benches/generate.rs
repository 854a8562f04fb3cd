//! 64-token generation on a generated GGUF: through `ChatModel` (and the agent) versus a
//! direct mistral.rs call on the same engine, in the same process.
//!
//! `cargo bench -p argus-vision --bench generate`. Runs alternate between the paths so drift
//! on a shared machine hits both alike; medians are compared.

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use argus_core::{Agent, ChatModel, ChatRequest, Message};
use argus_vision::testkit::{write_gguf, GgufSpec, GgufWeights};
use argus_vision::{MistralRsModel, ModelSource};
use futures::StreamExt;
use mistralrs::{RequestBuilder, TextMessageRole};

const TOKENS: u32 = 64;
const RUNS: usize = 15;
const SYSTEM: &str = "You are a helpful assistant. Answer briefly.";
const USER: &str = "Write a short poem about the sea.";

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.gguf");
    let spec = GgufSpec {
        seed: 11,
        hidden_size: 512,
        num_layers: 4,
        num_heads: 8,
        num_kv_heads: 4,
        intermediate_size: 1536,
        weights: GgufWeights::Q8_0,
        ..GgufSpec::default()
    };
    let checkpoint = write_gguf(&path, &spec).unwrap();
    let model = MistralRsModel::builder(ModelSource::gguf(&path))
        .build()
        .await
        .unwrap();
    let agent = Agent::builder()
        .model(model.clone())
        .system_prompt(SYSTEM)
        .max_tokens(TOKENS)
        .build()
        .unwrap();
    let request = ChatRequest::new(vec![Message::system(SYSTEM), Message::user(USER)])
        .with_max_tokens(TOKENS);
    let direct_request = || {
        RequestBuilder::new()
            .add_message(TextMessageRole::System, SYSTEM)
            .add_message(TextMessageRole::User, USER)
            .set_sampler_max_len(TOKENS as usize)
    };

    let mut direct = Vec::new();
    let mut wrapped = Vec::new();
    let mut streamed = Vec::new();
    let mut agented = Vec::new();
    let mut tokens = (0, 0);
    for i in 0..RUNS + 2 {
        let started = Instant::now();
        let d = model
            .mistralrs()
            .send_chat_request(direct_request())
            .await
            .unwrap();
        let direct_time = started.elapsed();

        let started = Instant::now();
        let w = model.chat(request.clone()).await.unwrap();
        let wrapped_time = started.elapsed();

        let started = Instant::now();
        let mut stream = model.chat_stream(request.clone()).await.unwrap();
        while let Some(event) = stream.next().await {
            event.unwrap();
        }
        let streamed_time = started.elapsed();

        let started = Instant::now();
        agent.run(USER).await.unwrap();
        let agent_time = started.elapsed();

        if i >= 2 {
            direct.push(direct_time);
            wrapped.push(wrapped_time);
            streamed.push(streamed_time);
            agented.push(agent_time);
        }
        tokens = (
            d.usage.completion_tokens,
            w.usage.completion_tokens as usize,
        );
        assert_eq!(
            d.choices[0].message.content.as_deref().unwrap_or_default(),
            w.message.text(),
            "both paths must generate the same greedy text"
        );
    }
    let direct = median(direct);
    let wrapped = median(wrapped);
    let streamed = median(streamed);
    let agented = median(agented);
    println!(
        "generate: {}-parameter llama GGUF ({:?}, hidden {}, {} layers), {} generated tokens \
         (direct) / {} (ChatModel), median of {RUNS} alternating runs",
        checkpoint.parameters, spec.weights, spec.hidden_size, spec.num_layers, tokens.0, tokens.1
    );
    let row = |name: &str, ms: f64| {
        println!(
            "  {name:<44} {ms:8.1} ms  ({:+.1}% vs direct)",
            (ms / direct - 1.0) * 100.0
        );
    };
    println!(
        "  {:<44} {direct:8.1} ms",
        "mistral.rs Model::send_chat_request (direct)"
    );
    row("MistralRsModel::chat (ChatModel)", wrapped);
    row("MistralRsModel::chat_stream (ChatModel)", streamed);
    row("Agent::run (one step, no tools)", agented);
}
