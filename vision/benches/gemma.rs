//! Real weights: Gemma 3 270M (the GGUF in `ARGUS_GEMMA_GGUF`) converted by argus-convert,
//! then prompt and decode speed through the agent versus a direct mistral.rs call on the same
//! engine, with F32 weights and with in-situ quantisation (Q8_0, and Q4K where its blocks tile
//! the rows), and — when `ARGUS_LLAMA_BENCH` names a llama.cpp `llama-bench` binary — llama.cpp
//! on the same GGUF in the same run, with the ratio.
//!
//! `ARGUS_GEMMA_GGUF=... [ARGUS_LLAMA_BENCH=.../llama-bench] cargo bench -p argus-vision --bench
//! gemma`. All paths stream the same greedy request; prompt speed is prompt tokens over the
//! time to the first token, decode speed the remaining tokens over the remaining time. Every
//! request carries a fresh system prompt so the prefix cache never serves a prompt. Paths
//! alternate; medians are compared. `ARGUS_BENCH_RUNS` sets the runs per path (default 9).

#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use argus_convert::{convert, ConvertOptions};
use argus_core::{Agent, AgentEvent, ChatModel, ChatRequest, Message, StreamEvent};
use argus_vision::{Isq, MistralRsModel, ModelSource};
use futures::StreamExt;
use mistralrs::{RequestBuilder, Response, SamplingParams, TextMessageRole};

const RUNS: usize = 9;
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
    let runs = std::env::var("ARGUS_BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(RUNS)
        .max(1);
    let mut measured = Vec::new();
    for isq in [None, Some(Isq::Q8_0), Some(Isq::Q4K)] {
        measured.push(runtime.block_on(measure(&dir, isq, runs)));
    }
    let Some(llama_bench) = std::env::var_os("ARGUS_LLAMA_BENCH").map(PathBuf::from) else {
        println!("\nllama.cpp: ARGUS_LLAMA_BENCH is not set; not compared");
        return;
    };
    let prompt_tokens = measured[0].prompt_tokens;
    let Some((prompt, decode)) = llama_cpp(&llama_bench, &gguf, prompt_tokens) else {
        return;
    };
    println!(
        "\nllama.cpp ({}, -p {prompt_tokens} -n {MAX_TOKENS} -t {}): prompt {prompt:.1} tok/s, decode {decode:.1} tok/s",
        llama_bench.display(),
        threads()
    );
    for m in &measured {
        println!(
            "  {:<14} agent / llama.cpp: prompt {:.2}x, decode {:.2}x",
            m.label,
            m.prompt / prompt,
            m.decode / decode
        );
    }
}

/// The agent's medians for one weight setting.
struct Measured {
    label: String,
    prompt_tokens: u64,
    prompt: f64,
    decode: f64,
}

/// Threads the machine offers (llama.cpp is given as many as candle uses).
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// llama.cpp's prompt and decode speed on `gguf` (`llama-bench -o json`), or `None` with the
/// reason printed.
fn llama_cpp(binary: &Path, gguf: &Path, prompt_tokens: u64) -> Option<(f64, f64)> {
    let output = Command::new(binary)
        .arg("-m")
        .arg(gguf)
        .args([
            "-p",
            &prompt_tokens.to_string(),
            "-n",
            &MAX_TOKENS.to_string(),
        ])
        .args(["-t", &threads().to_string(), "-r", "5", "-o", "json"])
        .output();
    let output = match output {
        Ok(output) if output.status.success() => output,
        Ok(output) => {
            println!(
                "llama.cpp: {} failed ({}): {}",
                binary.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
            return None;
        }
        Err(error) => {
            println!("llama.cpp: cannot run {}: {error}", binary.display());
            return None;
        }
    };
    let tests: Vec<serde_json::Value> = match serde_json::from_slice(&output.stdout) {
        Ok(tests) => tests,
        Err(error) => {
            println!("llama.cpp: unreadable llama-bench output: {error}");
            return None;
        }
    };
    let speed = |prompt: bool| {
        tests.iter().find_map(|test| {
            let n_prompt = test["n_prompt"].as_u64()?;
            let n_gen = test["n_gen"].as_u64()?;
            (prompt == (n_prompt > 0 && n_gen == 0)).then(|| test["avg_ts"].as_f64())?
        })
    };
    match (speed(true), speed(false)) {
        (Some(prompt), Some(decode)) => Some((prompt, decode)),
        _ => {
            println!("llama.cpp: llama-bench reported no prompt and generation tests");
            None
        }
    }
}

async fn measure(dir: &Path, isq: Option<Isq>, runs: usize) -> Measured {
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
        Some(isq) => format!("ISQ {isq:?}"),
    };
    println!(
        "\n{label}: loaded in {:.2} s, resident memory +{:.0} MiB",
        load_time.as_secs_f64(),
        rss_after - rss_before
    );

    let mut direct_samples = Vec::new();
    let mut model_samples = Vec::new();
    let mut agent_samples = Vec::new();
    for run in 0..WARMUP + runs {
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
        a
    };
    let prompt = report("prompt", Sample::prompt_tps);
    let decode = report("decode", Sample::decode_tps);
    Measured {
        label,
        prompt_tokens: first.prompt_tokens,
        prompt,
        decode,
    }
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
