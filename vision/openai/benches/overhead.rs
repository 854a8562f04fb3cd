//! What the remote model adds to a call: `OpenAiModel::chat` against a raw reqwest POST of the
//! same body to the same local server (mistral.rs's server on the tiny mllama, in process),
//! alternating one call of each so that both see the same load.
//!
//! `cargo bench -p argus-openai --bench overhead` (`ARGUS_BENCH_CALLS`, default 300 each).

#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use argus_core::{ChatModel, ChatRequest, Message};
use argus_openai::OpenAiModel;
use argus_vision::testkit::{write_mllama, MllamaSpec, ServedModel, TestServer};
use serde_json::{json, Value};

fn main() {
    let calls: usize = std::env::var("ARGUS_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let model_dir = dir.path().join("mllama");
        write_mllama(&model_dir, &MllamaSpec::default()).unwrap();
        let server = TestServer::start(ServedModel::Multimodal(model_dir))
            .await
            .unwrap();
        let model = OpenAiModel::builder(server.base_url(), "default")
            .build()
            .unwrap();
        let request = ChatRequest::new(vec![Message::user("Say hello.")]).with_max_tokens(8);
        let client = reqwest::Client::new();
        let url = format!("{}/chat/completions", server.base_url());
        let body = json!({
            "model": "default",
            "messages": [{"role": "user", "content": "Say hello."}],
            "temperature": 0.0,
            "max_tokens": 8,
            "stream": false,
        });
        let body = serde_json::to_vec(&body).unwrap();
        let raw = || async {
            let response = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let value: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
            assert!(value["choices"][0]["message"].is_object());
        };
        for _ in 0..20 {
            model.chat(request.clone()).await.unwrap();
            raw().await;
        }
        let mut argus = Vec::with_capacity(calls);
        let mut direct = Vec::with_capacity(calls);
        for _ in 0..calls {
            let started = Instant::now();
            model.chat(request.clone()).await.unwrap();
            argus.push(started.elapsed());
            let started = Instant::now();
            raw().await;
            direct.push(started.elapsed());
        }
        let (a50, a90) = percentiles(&mut argus);
        let (d50, d90) = percentiles(&mut direct);
        println!("calls each: {calls} (after 20 warm-up calls each)");
        println!(
            "OpenAiModel::chat  median {:8.3} ms  p90 {:8.3} ms",
            ms(a50),
            ms(a90)
        );
        println!(
            "raw reqwest POST   median {:8.3} ms  p90 {:8.3} ms",
            ms(d50),
            ms(d90)
        );
        let overhead = ms(a50) - ms(d50);
        println!(
            "overhead (median)  {overhead:+.3} ms per call ({:+.1}%)",
            100.0 * overhead / ms(d50)
        );
    });
}

fn percentiles(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
