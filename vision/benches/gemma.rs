//! Real weights: Gemma 3 270M (the GGUF in `ARGUS_GEMMA_GGUF`) converted by argus-convert,
//! then prompt and decode speed through the agent versus a direct mistral.rs call on the same
//! engine, with F32 weights and with in-situ 4-bit quantisation (Q4K).
//!
//! `ARGUS_GEMMA_GGUF=... cargo bench -p argus-vision --bench gemma`. Both paths stream the
//! same greedy request; prompt speed is prompt tokens over the time to the first token, decode
//! speed the remaining tokens over the remaining time. Every request carries a fresh system
//! prompt so the prefix cache never serves a prompt. Paths alternate; medians are compared.

#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use argus_convert::{convert, ConvertOptions};
use argus_core::{Agent, AgentEvent, ChatModel, ChatRequest, Message, StreamEvent};
use argus_vision::{Isq, MistralRsModel, ModelSource};
use futures::StreamExt;
use mistralrs::{RequestBuilder, Response, SamplingParams, TextMessageRole};

const RUNS: usize = 15;
const WARMUP: usize = 1;
const MAX_TOKENS: u32 = 64;
/// About 450 tokens with the template, so the prompt phase is long enough to time well.
const USER: &str = "Read the passage and explain it in your own words.\n\nWater is a chemical \
    compound of hydrogen and oxygen. Each molecule has one oxygen atom bonded to two hydrogen \
    atoms, and the bonds form an angle of about 104.5 degrees. Because oxygen pulls electrons \
    more strongly than hydrogen, the molecule is polar, and neighbouring molecules attract each \
    other through hydrogen bonds. These bonds explain why water has a high boiling point for \
    such a small molecule, why ice floats, and why water dissolves so many salts and sugars. \
    Liquid water is densest at about four degrees Celsius, so in winter the coldest water rises \
    and freezes at the surface while deeper water stays liquid, which lets fish survive under \
    the ice. Its high heat capacity means oceans store enormous amounts of energy, moderating \
    coastal climates and driving currents that carry heat from the equator toward the poles. \
    Evaporation from the sea surface lifts water into the atmosphere, where it condenses into \
    clouds and returns as rain or snow, feeding rivers, lakes and groundwater before flowing \
    back to the sea. Living cells are mostly water: it transports nutrients, carries away \
    waste, and takes part directly in reactions such as photosynthesis, in which plants split \
    water molecules using light and release the oxygen we breathe. In industry water cools \
    power stations, dissolves and carries chemicals, and is turned into steam to drive \
    turbines. Because so much depends on it, clean water is one of the most valuable \
    resources on Earth, and protecting rivers and aquifers from pollution is a task for \
    every generation. Scientists still study its unusual properties, such as the many \
    crystal forms of ice at high pressure and the way water behaves in narrow channels.";

/// One streamed generation, timed.
struct Sample {
    first_token: Duration,
    total: Duration,
    prompt_tokens: u64,
    completion_tokens: u64,
    text: String,
}

impl Sample {
    fn prompt_tps(&self) -> f64 {
        self.prompt_tokens as f64 / self.first_token.as_secs_f64()
    }

    fn decode_tps(&self) -> f64 {
        let decoded = self.completion_tokens.saturating_sub(1) as f64;
        decoded / (self.total - self.first_token).as_secs_f64()
    }
}

fn system_prompt(run: usize) -> String {
    format!("Request {run}. You are a patient teacher.")
}

/// Peak and current resident memory of this process, in MiB.
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let Some(gguf) = std::env::var_os("ARGUS_GEMMA_GGUF").map(PathBuf::from) else {
        println!("gemma: ARGUS_GEMMA_GGUF is not set; nothing to measure");
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("gemma");
    let started = Instant::now();
    convert(&gguf, &dir, &ConvertOptions::default(), &mut |_| {}).unwrap();
    let convert_time = started.elapsed();
    let (convert_peak, _) = memory_mib();
    println!(
        "gemma: converted {} in {:.2} s, peak RSS {convert_peak:.0} MiB",
        gguf.display(),
        convert_time.as_secs_f64()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for isq in [None, Some(Isq::Q4K)] {
        runtime.block_on(measure(&dir, isq));
    }
}

async fn measure(dir: &Path, isq: Option<Isq>) {
    let (_, rss_before) = memory_mib();
    let started = Instant::now();
    let mut builder = MistralRsModel::builder(ModelSource::dir(dir));
    if let Some(isq) = isq {
        builder = builder.with_isq(isq);
    }
    let model = builder.build().await.unwrap();
    let load_time = started.elapsed();
    let (_, rss_after) = memory_mib();
    let label = match isq {
        None => "F32".to_string(),
        Some(isq) => format!("F32 + ISQ {isq:?}"),
    };
    println!(
        "\n{label}: loaded in {:.2} s, resident memory +{:.0} MiB",
        load_time.as_secs_f64(),
        rss_after - rss_before
    );

    let mut direct_samples = Vec::new();
    let mut model_samples = Vec::new();
    let mut agent_samples = Vec::new();
    for run in 0..WARMUP + RUNS {
        let direct_sample = direct(&model, &system_prompt(3 * run)).await;
        let model_sample = through_chat_model(&model, &system_prompt(3 * run + 1)).await;
        let agent_sample = through_agent(&model, &system_prompt(3 * run + 2)).await;
        if run >= WARMUP {
            direct_samples.push(direct_sample);
            model_samples.push(model_sample);
            agent_samples.push(agent_sample);
        }
    }
    let first = &agent_samples[0];
    println!(
        "  {} prompt tokens, {} generated tokens; the model wrote {:?}",
        first.prompt_tokens,
        first.completion_tokens,
        first.text.chars().take(80).collect::<String>()
    );
    let report = |name: &str, tps: fn(&Sample) -> f64| {
        let d = median(direct_samples.iter().map(tps).collect());
        let m = median(model_samples.iter().map(tps).collect());
        let a = median(agent_samples.iter().map(tps).collect());
        println!(
            "  {name:<7} direct {d:7.1} tok/s   ChatModel {m:7.1} tok/s ({:+.1}%)   agent {a:7.1} tok/s ({:+.1}%)",
            (m / d - 1.0) * 100.0,
            (a / d - 1.0) * 100.0
        );
    };
    report("prompt", Sample::prompt_tps);
    report("decode", Sample::decode_tps);
}

/// A streamed greedy request straight to mistral.rs.
async fn direct(model: &MistralRsModel, system: &str) -> Sample {
    let request = RequestBuilder::new()
        .add_message(TextMessageRole::System, system)
        .add_message(TextMessageRole::User, USER)
        .set_sampling(SamplingParams {
            max_len: Some(MAX_TOKENS as usize),
            ..SamplingParams::deterministic()
        });
    let started = Instant::now();
    let mut stream = model
        .mistralrs()
        .stream_chat_request(request)
        .await
        .unwrap();
    let mut first_token = None;
    let mut text = String::new();
    let mut usage = None;
    while let Some(response) = stream.next().await {
        match response {
            Response::Chunk(chunk) => {
                first_token.get_or_insert_with(|| started.elapsed());
                if let Some(choice) = chunk.choices.first() {
                    text.push_str(choice.delta.content.as_deref().unwrap_or_default());
                }
                if chunk.usage.is_some() {
                    usage = chunk.usage;
                }
            }
            Response::ModelError(e, _) => panic!("{e}"),
            Response::InternalError(e) => panic!("{e}"),
            _ => {}
        }
    }
    let usage = usage.expect("the last chunk carries usage");
    Sample {
        first_token: first_token.unwrap(),
        total: started.elapsed(),
        prompt_tokens: usage.prompt_tokens as u64,
        completion_tokens: usage.completion_tokens as u64,
        text,
    }
}

/// The same request through `ChatModel::chat_stream`.
async fn through_chat_model(model: &MistralRsModel, system: &str) -> Sample {
    let request = ChatRequest::new(vec![Message::system(system), Message::user(USER)])
        .with_max_tokens(MAX_TOKENS);
    let started = Instant::now();
    let mut stream = model.chat_stream(request).await.unwrap();
    let mut first_token = None;
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            StreamEvent::TextDelta { .. } => {
                first_token.get_or_insert_with(|| started.elapsed());
            }
            StreamEvent::Done { response } => {
                return Sample {
                    first_token: first_token.unwrap(),
                    total: started.elapsed(),
                    prompt_tokens: response.usage.prompt_tokens,
                    completion_tokens: response.usage.completion_tokens,
                    text: response.message.text(),
                };
            }
            _ => {}
        }
    }
    panic!("the stream ended without a response")
}

/// The same request as an agent run (one step, no tools), streamed.
async fn through_agent(model: &MistralRsModel, system: &str) -> Sample {
    let agent = Agent::builder()
        .model(model.clone())
        .system_prompt(system)
        .max_tokens(MAX_TOKENS)
        .build()
        .unwrap();
    let started = Instant::now();
    let mut events = agent.run_stream(USER);
    let mut first_token = None;
    while let Some(event) = events.next().await {
        match event {
            AgentEvent::TextDelta { .. } => {
                first_token.get_or_insert_with(|| started.elapsed());
            }
            AgentEvent::Final { output } => {
                let usage = output.trace.usage;
                return Sample {
                    first_token: first_token.unwrap(),
                    total: started.elapsed(),
                    prompt_tokens: usage.prompt_tokens,
                    completion_tokens: usage.completion_tokens,
                    text: output.answer,
                };
            }
            AgentEvent::Error { error } => panic!("{error}"),
            _ => {}
        }
    }
    panic!("the run ended without a final event")
}
