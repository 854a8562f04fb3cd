//! The mistral.rs-hosted model on real weights: Google's base Gemma 3 270M (Q4_K_M GGUF,
//! converted to safetensors by argus-convert), real engine, greedy decoding.
//!
//! The GGUF comes from `ARGUS_GEMMA_GGUF`. Without it the tests print why they are skipped
//! and pass, unless `ARGUS_REQUIRE_REAL_MODEL` or `CI` is set (as `.ci/run` does): there a
//! missing model fails them.

#![allow(missing_docs, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Instant;

use argus_core::{
    validate_arguments, Agent, ChatModel, ChatRequest, ImageRef, Message, ModelError, RunTrace,
    StreamEvent, ToolChoice,
};
use argus_vision::{Isq, MistralRsModel, ModelSource, PromptMode};
use mistralrs::{
    Constraint, NormalRequest, Request, RequestMessage, Response, SamplingParams, ToolChoice as Tc,
};
use schemars::JsonSchema;
use serde::Deserialize;

/// The converted model directory, or `None` when the test is skipped.
fn converted(test: &str) -> Option<PathBuf> {
    argus_vision::testkit::gemma_3_270m(test)
}

/// A runtime for one model: the engine's background tasks live on the runtime that loaded it.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Arguments of the test calculator.
#[derive(Debug, Deserialize, JsonSchema)]
struct Calc {
    /// Two whole numbers and an operator, such as `6 * 7`.
    #[schemars(pattern(r"^[0-9]{1,6} [*+] [0-9]{1,6}$"))]
    expression: String,
}

/// Evaluates `a*b` or `a+b` on integers; anything else is an error.
fn evaluate(expression: &str) -> Result<i64, String> {
    let refuse = || format!("cannot evaluate `{expression}`: use the form `a * b` or `a + b`");
    let (op, (a, b)) = ['*', 'x', '×', '+']
        .iter()
        .find_map(|op| expression.split_once(*op).map(|parts| (*op, parts)))
        .ok_or_else(refuse)?;
    let a: i64 = a.trim().parse().map_err(|_| refuse())?;
    let b: i64 = b.trim().parse().map_err(|_| refuse())?;
    Ok(if op == '+' { a + b } else { a * b })
}

fn calculator() -> argus_core::FnTool {
    argus_core::tool_fn(
        "calculator",
        "Evaluates `a * b` or `a + b` on integers.",
        |args: Calc| async move { evaluate(&args.expression) },
    )
}

/// A raw (no chat template) greedy completion through the model's mistral.rs engine.
async fn complete(model: &MistralRsModel, prompt: &str, max_len: usize) -> String {
    let runner = model.mistralrs().inner();
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let request = Request::Normal(Box::new(NormalRequest {
        messages: RequestMessage::Completion {
            text: prompt.to_string(),
            echo_prompt: false,
            best_of: None,
        },
        sampling_params: SamplingParams {
            max_len: Some(max_len),
            ..SamplingParams::deterministic()
        },
        response: tx,
        return_logprobs: false,
        is_streaming: false,
        id: runner.next_request_id(),
        constraint: Constraint::None,
        suffix: None,
        tools: None,
        tool_choice: Some(Tc::None),
        logits_processors: None,
        return_raw_logits: false,
        web_search_options: None,
        model_id: None,
        truncate_sequence: false,
    }));
    runner
        .get_sender(None)
        .unwrap()
        .send(request)
        .await
        .unwrap();
    match rx.recv().await.unwrap() {
        Response::CompletionDone(done) => done.choices[0].text.clone(),
        Response::CompletionModelError(e, _) => panic!("completion failed: {e}"),
        Response::InternalError(e) => panic!("engine error: {e}"),
        Response::ValidationError(e) => panic!("invalid request: {e}"),
        _ => panic!("unexpected response to a completion request"),
    }
}

/// Gemma 3 270M has no vision tower (mistral.rs loads it with Gemma 3's multimodal loader):
/// an image is a typed invalid request, not an engine failure.
async fn refuses_images(model: &MistralRsModel) {
    assert!(!model.accepts_images());
    let image = ImageRef::from_bytes(vec![0x89, b'P', b'N', b'G'], "image/png");
    let request = ChatRequest::new(vec![Message::user_with_images(
        "What is this?",
        vec![image],
    )]);
    match model.chat(request).await {
        Err(ModelError::InvalidRequest(reason)) => {
            assert!(reason.contains("cannot take images"), "{reason}")
        }
        other => panic!("expected an invalid request, got {other:?}"),
    }
}

/// Greedy raw completion of a factual prompt continues with the fact.
async fn completion_names_oxygen(model: &MistralRsModel) {
    let started = Instant::now();
    let text = complete(model, "Water is made of hydrogen and", 8).await;
    eprintln!(
        "completion ({:.1} s): {text:?}",
        started.elapsed().as_secs_f64()
    );
    assert!(text.contains("oxygen"), "{text:?}");
}

fn print_trace(trace: &RunTrace) {
    for step in &trace.steps {
        eprintln!(
            "step {}: text {:?}, calls {:?}, results {:?} ({} prompt + {} completion tokens, {:.1} s)",
            step.index,
            step.assistant().text(),
            step.assistant()
                .tool_calls
                .iter()
                .map(|c| (&c.name, c.arguments.to_string()))
                .collect::<Vec<_>>(),
            step.tool_results()
                .iter()
                .map(|m| (m.text(), m.tool_result.as_ref().and_then(|r| r.error)))
                .collect::<Vec<_>>(),
            step.usage.prompt_tokens,
            step.usage.completion_tokens,
            step.duration_us as f64 / 1e6
        );
    }
}

/// A forced first call on a real prompt: the grammar makes it a schema-valid `calculator`
/// call, the tool runs, its result goes back through Gemma's template (which has no tool
/// role and demands alternating turns), and the run ends with an answer.
async fn forced_calculator_call(model: &MistralRsModel) {
    let tool = calculator();
    let schema = tool.spec().parameters.clone();
    let agent = Agent::builder()
        .model(model.clone())
        .system_prompt("You are a calculator assistant.")
        .tool(tool)
        .tool_choice(ToolChoice::Required)
        .max_steps(3)
        .max_tokens(64)
        .build()
        .unwrap();
    let started = Instant::now();
    let result = agent.run("What is 17 times 23?").await;
    eprintln!("agent run: {:.1} s", started.elapsed().as_secs_f64());
    let trace = match &result {
        Ok(output) => {
            eprintln!("final answer: {:?}", output.answer);
            &output.trace
        }
        Err(error) => {
            eprintln!("run ended with: {error}");
            error.trace().unwrap()
        }
    };
    print_trace(trace);
    let first = &trace.steps[0];
    assert_eq!(first.assistant().tool_calls.len(), 1, "{first:#?}");
    let call = &first.assistant().tool_calls[0];
    assert_eq!(call.name, "calculator");
    validate_arguments(&schema, &call.arguments).unwrap();
    let expression = call.arguments["expression"].as_str().unwrap();
    eprintln!("calculator expression: {expression:?}");
    assert_eq!(first.tool_results().len(), 1);
    let info = first.tool_results()[0].tool_result.as_ref().unwrap();
    assert_eq!(info.call_id, call.id);
    eprintln!(
        "tool result: {:?} (error: {:?})",
        first.tool_results()[0].text(),
        info.error
    );
    // Greedy, F32, CPU: with the pattern in the schema the grammar leaves the model only the
    // numbers and the operator to choose, and it picks the question's own `17 * 23`. The
    // grammar's end token stops the step right after the call (18 tokens, not the limit).
    assert_eq!(expression, "17 * 23");
    assert_eq!(first.tool_results()[0].text(), "391");
    assert_eq!(info.error, None);
    assert!(
        first.usage.completion_tokens < 32,
        "the forced call ran on after its end: {:?}",
        first.usage
    );
    let first_usage = first.usage;
    // The tool choice returns to `auto` after the forced step, so the base (not instruction
    // tuned) model answers in text: it continues the prompt by repeating its system text.
    let output = result.expect("the run finishes with an answer");
    assert_eq!(output.trace.steps.len(), 2);
    let last = &output.trace.steps[1];
    assert!(last.assistant().tool_calls.is_empty(), "{last:#?}");
    // The second step prefills only what the first added: its prompt starts with the first
    // step's whole prompt, which the prefix cache serves.
    assert!(
        last.usage.cached_prompt_tokens >= first_usage.prompt_tokens,
        "{:?} after {first_usage:?}",
        last.usage
    );
    assert!(
        output.answer.starts_with("You are a calculator assistant."),
        "{:?}",
        output.answer
    );
}

/// What the typed run asks for.
#[derive(Debug, Deserialize, JsonSchema)]
struct Element {
    /// The element's name.
    #[schemars(length(max = 16))]
    name: String,
    /// Its atomic number.
    #[schemars(range(min = 1, max = 118))]
    atomic_number: u8,
}

/// A typed run: the answer is constrained to `Element`'s schema, so it always parses.
async fn typed_answer(model: &MistralRsModel) {
    let agent = Agent::builder()
        .model(model.clone())
        .system_prompt("Answer with JSON.")
        .max_tokens(48)
        .build()
        .unwrap();
    let element: Element = agent
        .run_typed("Which element has the atomic number 8?")
        .await
        .unwrap();
    eprintln!("typed answer: {element:?}");
    assert!((1..=118).contains(&element.atomic_number));
    assert!(element.name.chars().count() <= 16);
}

/// Loads the model (quantised with `isq`, if any) and runs the model checks in sequence on one
/// runtime (the engine's background tasks live on the runtime that loaded it).
fn completes_and_calls_tools(test: &str, isq: Option<Isq>) {
    let Some(dir) = converted(test) else {
        return;
    };
    let runtime = runtime();
    runtime.block_on(async {
        let started = Instant::now();
        let mut builder = MistralRsModel::builder(ModelSource::dir(&dir));
        if let Some(isq) = isq {
            builder = builder.with_isq(isq);
        }
        let model = builder.build().await.unwrap();
        eprintln!("loaded in {:.1} s", started.elapsed().as_secs_f64());
        refuses_images(&model).await;
        completion_names_oxygen(&model).await;
        forced_calculator_call(&model).await;
        typed_answer(&model).await;
    });
}

#[test]
fn real_gemma_completes_and_calls_tools() {
    completes_and_calls_tools("real_gemma_completes_and_calls_tools", None);
}

/// The same checks on the weights quantised while loading, as the CLI loads a converted GGUF:
/// Q8_0 for every projection and the tied output layer (their rows are 640 wide).
#[test]
fn quantised_gemma_completes_and_calls_tools() {
    completes_and_calls_tools("quantised_gemma_completes_and_calls_tools", Some(Isq::Q8_0));
}

/// The converted tokenizer round-trips mixed text and gives SentencePiece's ids.
#[test]
fn converted_tokenizer_round_trips_and_matches_recorded_ids() {
    let Some(dir) = converted("converted_tokenizer_round_trips_and_matches_recorded_ids") else {
        return;
    };
    let tokenizer = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    let ids = |text: &str, special: bool| -> Vec<u32> {
        tokenizer.encode(text, special).unwrap().get_ids().to_vec()
    };
    assert_eq!(ids("Hello world", false), [9259, 1902]);
    // With special tokens the post-processor prepends `<bos>` (2).
    assert_eq!(ids("Hello world", true), [2, 9259, 1902]);
    assert_eq!(ids("<start_of_turn>", false), [105]);
    assert_eq!(ids("<end_of_turn>", false), [106]);
    let corpus = [
        "fn main() {\n    println!(\"{}\", 1 + 2);\n}\n",
        "emoji: 🦀🚀 👩‍💻 and flags 🇫🇷",
        "中文分词测试，日本語のテキスト、한국어 문장。",
        "runs of   spaces,\t\ttabs,\n\n\nnewlines and trailing   ",
        "  leading spaces and <b>html</b> &amp; entities",
        "mixed: café naïve Ωmega ∑ x² ≤ 10⁻³",
    ];
    for text in corpus {
        let encoding = tokenizer.encode(text, false).unwrap();
        let decoded = tokenizer.decode(encoding.get_ids(), false).unwrap();
        assert_eq!(decoded, text, "ids {:?}", encoding.get_ids());
    }
}

/// Raw completion (`PromptMode::Completion`) of the base model: no chat template and no
/// system prompt, so the text is continued as is ("… oxygen") and generation stops within the
/// cap; streamed, the deltas add up to the same text. The window comes from the config.
#[test]
fn raw_completion_continues_the_text_within_the_cap() {
    let Some(dir) = converted("raw_completion_continues_the_text_within_the_cap") else {
        return;
    };
    let runtime = runtime();
    runtime.block_on(async {
        let model = MistralRsModel::builder(ModelSource::dir(&dir))
            .with_prompt_mode(PromptMode::Completion)
            .build()
            .await
            .unwrap();
        assert_eq!(model.context_length(), Some(32768));
        let request = ChatRequest::new(vec![
            Message::system("You are a careful assistant."),
            Message::user("Water is made of hydrogen and"),
        ])
        .with_max_tokens(8);
        let answer = model.chat(request.clone()).await.unwrap();
        let text = answer.message.text();
        eprintln!("raw completion: {text:?} ({:?})", answer.usage);
        assert!(text.contains("oxygen"), "{text:?}");
        assert!(!text.contains("careful assistant"), "{text:?}");
        assert!(answer.usage.completion_tokens <= 8, "{:?}", answer.usage);

        let mut stream = model.chat_stream(request).await.unwrap();
        let mut deltas = String::new();
        let mut done = None;
        while let Some(event) = futures::StreamExt::next(&mut stream).await {
            match event.unwrap() {
                StreamEvent::TextDelta { text } => deltas.push_str(&text),
                StreamEvent::Done { response } => done = Some(response),
                _ => {}
            }
        }
        let done = done.expect("the stream finished");
        assert_eq!(deltas, done.message.text());
        assert_eq!(done.message.text(), text, "streamed as answered");
        assert!(done.usage.completion_tokens <= 8, "{:?}", done.usage);
    });
}
