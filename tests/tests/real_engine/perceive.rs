//! Perceive, then act, on a real engine: the tiny generated Llama 3.2 Vision (mllama)
//! checkpoint observes the user's photo without tool schemas, calls the image tool by the
//! photo's hash with the tool schemas and no pixels, observes the crop, then answers; a second
//! session asking the same finds every observation in the store and shows the engine no image.

use std::io::Cursor;
use std::sync::{Arc, Mutex, PoisonError};

use argus_core::{
    async_trait, is_observation, Agent, ChatModel, ChatRequest, ChatResponse, ChatStream, ImageRef,
    Message, ModelError, VisionStrategy,
};
use argus_memory::SqliteMemory;
use argus_tools::ImageTool;
use argus_vision::testkit::{write_mllama, CallOnceThenAnswer, MllamaSpec};
use argus_vision::{ImageLoader, MistralRsModel, ModelSource};
use image::{Rgb, RgbImage};
use serde_json::json;

/// The real engine, with every request recorded. It narrows the image tool's schema in the
/// requests to the photo's hash and one region, so that random weights, constrained by the
/// grammar, call the tool with them; the registry still checks the call against the tool's
/// own schema.
struct Recorder {
    engine: CallOnceThenAnswer<MistralRsModel>,
    photo_sha256: String,
    requests: Mutex<Vec<ChatRequest>>,
}

impl Recorder {
    fn narrow(&self, mut request: ChatRequest) -> ChatRequest {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request.clone());
        let tools: Vec<_> = request
            .tools
            .iter()
            .cloned()
            .map(|mut spec| {
                if spec.name == "image" {
                    spec.parameters = json!({
                        "type": "object",
                        "properties": {
                            "image": {"const": self.photo_sha256},
                            "region": {
                                "type": "object",
                                "properties": {
                                    "x": {"const": 0}, "y": {"const": 0},
                                    "width": {"const": 0.5}, "height": {"const": 0.5},
                                },
                                "required": ["x", "y", "width", "height"],
                            },
                        },
                        "required": ["image", "region"],
                    });
                }
                spec
            })
            .collect();
        request.tools = tools.into();
        request
    }

    fn requests(&self) -> Vec<ChatRequest> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl ChatModel for Recorder {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        self.engine.chat(self.narrow(request)).await
    }

    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        self.engine.chat_stream(self.narrow(request)).await
    }

    fn name(&self) -> &str {
        self.engine.name()
    }

    fn vision_strategy(&self) -> VisionStrategy {
        self.engine.vision_strategy()
    }
}

/// A 64×64 photo: red top-left quarter, blue elsewhere.
fn photo() -> ImageRef {
    let image = RgbImage::from_fn(64, 64, |x, y| {
        if x < 32 && y < 32 {
            Rgb([220, 20, 20])
        } else {
            Rgb([20, 20, 220])
        }
    });
    let mut png = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    ImageLoader::new().load_bytes(png).unwrap().reference
}

fn images_shown(request: &ChatRequest) -> Vec<String> {
    request
        .messages
        .iter()
        .flat_map(|m| m.images().map(|i| i.sha256.clone()).collect::<Vec<_>>())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mllama_observes_then_calls_the_image_tool_by_hash_and_repeats_come_from_the_cache(
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let checkpoint = dir.path().join("mllama");
    write_mllama(&checkpoint, &MllamaSpec::default())?;
    let engine = MistralRsModel::builder(ModelSource::dir(&checkpoint))
        .build()
        .await?;
    let photo = photo();
    let model = Arc::new(Recorder {
        engine: CallOnceThenAnswer(engine),
        photo_sha256: photo.sha256.clone(),
        requests: Mutex::default(),
    });
    let memory = SqliteMemory::open(dir.path().join("memory.db")).await?;
    let agent = |session: &str| {
        Agent::builder()
            .shared_model(model.clone())
            .system_prompt("You answer questions about images. Zoom in with the image tool.")
            .tool(ImageTool::new().without_urls())
            .memory(memory.clone())
            .session(session)
            .max_tokens(200)
            .max_steps(6)
            .build()
    };
    let question = "What colour is the top-left corner?";
    let first = agent("first")?;
    // The model's family chose the strategy: mllama takes no tool calls with images.
    assert_eq!(first.vision_strategy(), VisionStrategy::PerceiveThenAct);

    let output = first
        .run(Message::user_with_images(question, vec![photo.clone()]))
        .await?;
    let steps = &output.trace.steps;
    assert_eq!(steps.len(), 4, "{steps:#?}");
    let requests = model.requests();
    assert_eq!(requests.len(), 4);

    // 1. Observe: the photo and the question, no tool schemas.
    assert!(requests[0].tools.is_empty());
    assert_eq!(
        images_shown(&requests[0]),
        std::slice::from_ref(&photo.sha256)
    );
    assert!(requests[0].messages[0].text().contains(question));
    assert!(is_observation(steps[0].assistant()));
    assert!(steps[0].usage.prompt_tokens > 0);

    // 2. Act: the tool schemas, no pixels; the photo is a reference by number and hash.
    assert_eq!(requests[1].tools.len(), 1);
    assert!(images_shown(&requests[1]).is_empty());
    let reference = format!("[image #1 sha256:{}]", photo.sha256);
    assert!(requests[1]
        .messages
        .iter()
        .any(|m| m.text().contains(&reference)));
    let call = &steps[1].assistant().tool_calls[0];
    assert_eq!(call.name, "image");
    assert_eq!(call.arguments["image"], photo.sha256.as_str());
    // The image tool found the user's photo by its hash and attached the crop.
    let result = &steps[1].tool_results()[0];
    assert_eq!(
        result.tool_result.as_ref().unwrap().error,
        None,
        "{}",
        result.text()
    );
    let crop: Vec<&ImageRef> = result.images().collect();
    assert_eq!(crop.len(), 1);
    assert_ne!(crop[0].sha256, photo.sha256);
    // The top-left quarter, zoomed: red all over, where the photo has blue too.
    let pixels = image::load_from_memory(crop[0].data.as_deref().unwrap())?.to_rgb8();
    assert_eq!(pixels.width(), pixels.height());
    assert!(pixels.pixels().all(|p| p[0] > 150 && p[2] < 100));

    // 3. Observe again: the crop alone, no tool schemas.
    assert!(requests[2].tools.is_empty());
    assert_eq!(
        images_shown(&requests[2]),
        std::slice::from_ref(&crop[0].sha256)
    );
    assert!(is_observation(steps[2].assistant()));

    // 4. Answer on text.
    assert!(images_shown(&requests[3]).is_empty());
    assert!(steps[3].assistant().tool_calls.is_empty());

    // Another session asks the same about the same photo: both observations come from the
    // store, so the vision encoder never runs.
    let second = agent("second")?;
    let again = second
        .run(Message::user_with_images(question, vec![photo.clone()]))
        .await?;
    let new_requests = &model.requests()[4..];
    assert_eq!(
        new_requests.len(),
        2,
        "only the acting calls reach the engine"
    );
    assert!(new_requests.iter().all(|r| images_shown(r).is_empty()));
    let observations: Vec<_> = again
        .trace
        .steps
        .iter()
        .filter(|s| is_observation(s.assistant()))
        .collect();
    assert_eq!(observations.len(), 2);
    for (cached, original) in observations.iter().zip([&steps[0], &steps[2]]) {
        assert_eq!(cached.assistant(), original.assistant());
        assert_eq!(cached.usage.prompt_tokens, 0, "no model call");
    }
    Ok(())
}
