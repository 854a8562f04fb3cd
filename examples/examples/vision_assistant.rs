//! A vision assistant: a Llama 3.2 Vision model (run in-process by mistral.rs) looks at an
//! image and calls a tool about it — here the calculator — before answering.
//!
//! ```text
//! cargo run -p argus-examples --example vision_assistant -- --model models/Llama-3.2-11B-Vision-Instruct photo.jpg
//! ARGUS_MODEL=models/Llama-3.2-11B-Vision-Instruct cargo run -p argus-examples --example vision_assistant -- photo.jpg
//! cargo run -p argus-examples --example vision_assistant -- --demo
//! ```
//!
//! `--demo` needs no download: it writes a tiny random-weight mllama checkpoint (the
//! `testkit`) to a temporary directory and uses a built-in picture. Random weights write
//! gibberish, but every step is real: image preprocessing, the vision encoder, a
//! grammar-constrained tool call, the agent loop.

use argus_core::{async_trait, Agent, ChatModel, ChatRequest, ChatResponse, ChatStream};
use argus_core::{Message, ModelError, Role, ToolChoice};
use argus_tools::Calculator;
use argus_vision::testkit::{write_mllama, MllamaSpec};
use argus_vision::{GrammarBounds, MistralRsModel, ModelSource};

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

const USAGE: &str = "usage: vision_assistant --model MODEL_DIR IMAGE
       ARGUS_MODEL=MODEL_DIR vision_assistant IMAGE
       vision_assistant --demo      (a tiny generated model and a built-in image)";

/// The agent has one tool choice for every step; this wrapper forces a tool call while the
/// user has the last word and asks for plain text once a tool result came back.
struct CallThenAnswer(MistralRsModel);

impl CallThenAnswer {
    fn choose(request: &mut ChatRequest) {
        let after_tool = request
            .messages
            .last()
            .is_some_and(|m| m.role == Role::Tool);
        request.tool_choice = if after_tool {
            ToolChoice::None
        } else {
            ToolChoice::Required
        };
    }
}

#[async_trait]
impl ChatModel for CallThenAnswer {
    async fn chat(&self, mut request: ChatRequest) -> Result<ChatResponse, ModelError> {
        Self::choose(&mut request);
        self.0.chat(request).await
    }
    async fn chat_stream(&self, mut request: ChatRequest) -> Result<ChatStream, ModelError> {
        Self::choose(&mut request);
        self.0.chat_stream(request).await
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env_model = std::env::var("ARGUS_MODEL").ok();
    let scratch = tempfile::tempdir()?;
    let (model, image) = match (&args[..], &env_model.as_deref()) {
        (["--demo"], _) => {
            let checkpoint = write_mllama(scratch.path(), &MllamaSpec::default())?;
            let model = MistralRsModel::builder(ModelSource::dir(checkpoint.path))
                // A forced call is as long as its schema allows: keep the demo's strings short.
                .with_grammar_bounds(GrammarBounds {
                    max_string_len: 24,
                    ..Default::default()
                })
                .build()
                .await?;
            let image = model.image_loader().load_bytes(SQUARES_PNG)?;
            println!("demo: a random-weight model, so expect gibberish from a real pipeline");
            (model, image)
        }
        (["--model", dir, image], _) | ([image], Some(dir)) if !image.starts_with('-') => {
            let model = MistralRsModel::builder(ModelSource::dir(*dir))
                .build()
                .await?;
            // The model's loader checks the file and downscales it to the model's image size.
            let image = model.image_loader().load(*image).await?;
            (model, image)
        }
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    println!(
        "image {} ({}x{} {})",
        &image.reference.sha256[..12],
        image.image.width(),
        image.image.height(),
        image.reference.media_type
    );

    let agent = Agent::builder()
        .model(CallThenAnswer(model))
        .system_prompt("You describe images precisely. Use the calculator for any arithmetic.")
        .tool(Calculator)
        .max_tokens(256)
        .max_steps(4)
        .build()?;
    let question = "Describe the picture, then count the red squares and multiply by 7.";
    let output = agent
        .run(Message::user_with_images(question, vec![image.reference]))
        .await?;
    for step in &output.trace.steps {
        for (call, result) in step.assistant().tool_calls.iter().zip(step.tool_results()) {
            println!(
                "tool call: {}({}) -> {}",
                call.name,
                call.arguments,
                result.text()
            );
        }
    }
    println!("answer: {}", output.answer);
    Ok(())
}
