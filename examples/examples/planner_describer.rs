//! Agents that use agents: a text "planner" answers the user with two tools, the calculator
//! and a "describer" — a vision agent used as a tool. The planner's model never receives the
//! image (Llama 3.2 Vision cannot call tools with an image in the prompt); the describer gets
//! the user's image with the planner's question, has no tools, and its answer is the tool
//! result.
//!
//! ```text
//! cargo run -p argus-examples --example planner_describer -- --demo
//! cargo run -p argus-examples --example planner_describer -- --model models/Llama-3.2-11B-Vision-Instruct photo.jpg
//! cargo run -p argus-examples --example planner_describer -- --api-base http://localhost:8000/v1 --model meta-llama/Llama-3.2-11B-Vision-Instruct photo.jpg
//! ```
//!
//! `--demo` runs offline on scripted models and prints what each agent saw and said. With a
//! real model, one vision model serves both agents; an optional last argument replaces the
//! question.

mod real_model;

use std::fmt::Write as _;
use std::sync::Arc;

use argus_core::{async_trait, Agent, ChatModel, ChatRequest, ChatResponse, ChatStream};
use argus_core::{ContentPart, ImageRef, Message, ModelError, RunOutput, ScriptedModel};
use argus_tools::Calculator;
use argus_vision::ImageLoader;
use serde_json::json;

use real_model::RealArgs;

/// A 48×32 PNG: three red squares on white.
const SQUARES_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00, 0x20, 0x08, 0x02, 0x00, 0x00, 0x00, 0xdb, 0xb6, 0x6c,
    0x4b, 0x00, 0x00, 0x00, 0x3e, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0xed, 0xd4, 0xb1, 0x0d, 0x00,
    0x30, 0x08, 0x03, 0x30, 0x2e, 0xe1, 0xff, 0xa3, 0x78, 0xa3, 0x7b, 0x1f, 0xe8, 0x86, 0x84, 0xa8,
    0xe4, 0x28, 0x63, 0x06, 0x4f, 0x89, 0xb3, 0x2c, 0x01, 0x04, 0x04, 0x04, 0x04, 0x04, 0xd4, 0x06,
    0x55, 0xe6, 0xb3, 0x33, 0x4b, 0x20, 0x20, 0x20, 0x20, 0x4f, 0x0d, 0x04, 0x04, 0x04, 0x04, 0xf4,
    0x19, 0xe8, 0x02, 0x1d, 0xae, 0xe5, 0xa2, 0x1c, 0x98, 0xa5, 0x1b, 0x00, 0x00, 0x00, 0x00, 0x49,
    0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

const USAGE: &str = "usage: planner_describer --demo
       planner_describer --model MODEL_DIR|FILE.gguf IMAGE [QUESTION]
       planner_describer --api-base URL --model NAME IMAGE [QUESTION]";

const QUESTION: &str = "How many red squares are in the picture? Multiply that number by 7.";

/// A model as a text-only planner sees it: every image in the request becomes a short note, so
/// the prompt that carries tool schemas never carries an image.
struct TextOnly(Arc<dyn ChatModel>);

impl TextOnly {
    fn strip(mut request: ChatRequest) -> ChatRequest {
        let has_images = request.messages.iter().any(|m| m.images().next().is_some());
        if has_images {
            request.messages = request
                .messages
                .iter()
                .map(|message| {
                    let mut message = message.clone();
                    for part in &mut message.content {
                        if let ContentPart::Image { image } = part {
                            let text = format!(
                                "[image {}: call describe_image to learn what it shows]",
                                &image.sha256[..12]
                            );
                            *part = ContentPart::Text { text };
                        }
                    }
                    message
                })
                .collect();
        }
        request
    }
}

#[async_trait]
impl ChatModel for TextOnly {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        self.0.chat(Self::strip(request)).await
    }
    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        self.0.chat_stream(Self::strip(request)).await
    }
    fn name(&self) -> &str {
        self.0.name()
    }
    fn context_length(&self) -> Option<usize> {
        self.0.context_length()
    }
}

/// The planner, with the describer on `vision` as its tool and the planner's own model on
/// `text` (seen through [`TextOnly`]).
fn planner(text: Arc<dyn ChatModel>, vision: Arc<dyn ChatModel>) -> anyhow::Result<Agent> {
    let describer = Agent::builder()
        .name("describer")
        .shared_model(vision)
        .system_prompt(
            "You describe images precisely: objects, colours, counts and any text. \
             Answer the question you are asked about the image, in two sentences at most.",
        )
        .max_tokens(256)
        .max_steps(2)
        .build()?;
    let agent = Agent::builder()
        .name("planner")
        .model(TextOnly(text))
        .system_prompt(
            "You answer questions about the user's image without seeing it: ask describe_image \
             what you need to know, use the calculator for arithmetic, then answer briefly.",
        )
        .tool(
            describer
                .into_tool(
                    "describe_image",
                    "Asks a vision assistant about the user's image; it sees the image and \
                     answers the question in `input`.",
                )
                .with_conversation_images(),
        )
        .tool(Calculator)
        .max_tokens(256)
        .max_steps(6)
        .build()?;
    Ok(agent)
}

/// Each tool call of the run with its result, then the answer and the agent that gave it.
fn report(output: &RunOutput, out: &mut String) {
    for step in &output.trace.steps {
        for (call, result) in step.assistant().tool_calls.iter().zip(step.tool_results()) {
            let _ = writeln!(
                out,
                "planner -> {}({}) -> {}",
                call.name,
                call.arguments,
                result.text()
            );
        }
    }
    let agent = output.agent.as_deref().unwrap_or("?");
    let _ = writeln!(out, "answer ({agent}): {}", output.answer);
}

/// The run on scripted models: what each agent was sent and said, as printed by `--demo`.
pub(crate) async fn demo() -> anyhow::Result<String> {
    let vision =
        Arc::new(ScriptedModel::new().then_text("Three red squares on a white background."));
    let text = Arc::new(
        ScriptedModel::new()
            .then_call(
                "describe_image",
                json!({"input": "How many red squares are in the picture?"}),
            )
            .then_call("calculator", json!({"expression": "3 * 7"}))
            .then_text("The picture shows three red squares; 3 × 7 = 21."),
    );
    let agent = planner(text.clone(), vision.clone())?;
    let image = ImageRef::from_bytes(SQUARES_PNG, "image/png");
    let output = agent
        .run(Message::user_with_images(QUESTION, vec![image.clone()]))
        .await?;

    let mut out =
        String::from("demo: scripted models stand in for the planner and the describer\n");
    let _ = writeln!(out, "user: {QUESTION} [image {}]", &image.sha256[..12]);
    report(&output, &mut out);
    let planner_saw_images = text
        .requests()
        .iter()
        .any(|request| request.messages.iter().any(|m| m.images().next().is_some()));
    let _ = writeln!(out, "planner saw an image: {planner_saw_images}");
    if let Some(request) = vision.requests().first() {
        let last = request.messages.last();
        let asked = last.map(Message::text).unwrap_or_default();
        let images: Vec<String> = last
            .into_iter()
            .flat_map(Message::images)
            .map(|image| image.sha256[..12].to_string())
            .collect();
        let _ = writeln!(
            out,
            "describer was asked: {asked} [image {}] with {} tools",
            images.join(", "),
            request.tools.len()
        );
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args == ["--demo"] {
        print!("{}", demo().await?);
        return Ok(());
    }
    let Some(real) = RealArgs::parse(&args).filter(|real| matches!(real.rest.len(), 1 | 2)) else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let model = real.load().await?;
    let image = ImageLoader::new()
        .load(real.rest[0].as_str())
        .await?
        .reference;
    let question = real.rest.get(1).map_or(QUESTION, String::as_str);
    let agent = planner(model.clone(), model)?;
    let output = agent
        .run(Message::user_with_images(question, vec![image]))
        .await?;
    let mut out = String::new();
    report(&output, &mut out);
    print!("{out}");
    Ok(())
}
