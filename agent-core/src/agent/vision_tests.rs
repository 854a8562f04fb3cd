//! `PerceiveThenAct` on the scripted model: what each request carries, and the caches.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use crate::*;

#[derive(Deserialize, schemars::JsonSchema)]
struct NoArgs {}

/// A tool that attaches a new image (a crop, say) to its result.
fn cropper() -> FnTool {
    tool_fn_with_context(
        "crop",
        "Crops an image.",
        |_: NoArgs, ctx: ToolContext| async move {
            ctx.attach_image(ImageRef::from_bytes(vec![9, 9, 9], "image/png"));
            Ok::<_, String>("cropped")
        },
    )
}

fn photo() -> ImageRef {
    ImageRef::from_bytes(vec![1, 2, 3], "image/jpeg")
}

fn agent(model: &Arc<ScriptedModel>, strategy: VisionStrategy) -> AgentBuilder {
    Agent::builder()
        .shared_model(model.clone())
        .system_prompt("You are a test agent.")
        .tool(cropper())
        .vision_strategy(strategy)
}

fn image_count(request: &ChatRequest) -> usize {
    request.messages.iter().map(|m| m.images().count()).sum()
}

fn question() -> Message {
    Message::user_with_images("How many squares?", vec![photo()])
}

#[tokio::test]
async fn the_observing_call_has_the_image_and_no_tools_and_the_acting_calls_the_reverse() {
    let model = Arc::new(
        ScriptedModel::new()
            .then_text("three red squares")
            .then_call("crop", json!({}))
            .then_text("a red square")
            .then_text("There are 3."),
    );
    let agent = agent(&model, VisionStrategy::PerceiveThenAct)
        .build()
        .unwrap();
    let output = agent.run(question()).await.unwrap();
    assert_eq!(output.answer, "There are 3.");

    let requests = model.requests();
    assert_eq!(requests.len(), 4);
    let (observe, act) = (&requests[0], &requests[1]);
    assert!(observe.tools.is_empty(), "no tool schemas while observing");
    assert_eq!(image_count(observe), 1);
    assert!(observe.messages[0].text().contains("How many squares?"));
    assert!(!act.tools.is_empty());
    assert_eq!(image_count(act), 0, "no pixels next to tool schemas");
    let sha = photo().sha256;
    assert!(act.messages[1]
        .text()
        .contains(&format!("[image #1 sha256:{sha}]")));
    let observation = act.messages.last().unwrap();
    assert!(is_observation(observation));
    assert!(observation.text().ends_with("three red squares"));

    // The crop is a new image: observed on its own, then the run goes on on text.
    let crop = ImageRef::from_bytes(vec![9, 9, 9], "image/png");
    assert!(requests[2].tools.is_empty());
    let shown: Vec<String> = requests[2]
        .messages
        .iter()
        .flat_map(|m| m.images().map(|i| i.sha256.clone()).collect::<Vec<_>>())
        .collect();
    assert_eq!(shown, std::slice::from_ref(&crop.sha256));
    assert_eq!(image_count(&requests[3]), 0);
    assert!(requests[3]
        .messages
        .last()
        .unwrap()
        .text()
        .starts_with(&format!("Observation of image #2 sha256:{}", crop.sha256)));
    // Observations are steps of the trace, with the model call's usage.
    assert_eq!(output.trace.steps.len(), 4);
    assert!(is_observation(output.trace.steps[0].assistant()));
}

#[tokio::test]
async fn a_repeated_image_and_question_is_a_cache_hit_in_the_agent_and_in_the_store() {
    let memory: Arc<dyn Memory> = Arc::new(InMemoryMemory::new());
    let model = Arc::new(
        ScriptedModel::new()
            .then_text("three red squares")
            .then_text("3")
            .then_text("3 again")
            .then_text("3 from the store"),
    );
    let first = agent(&model, VisionStrategy::PerceiveThenAct)
        .shared_memory(memory.clone())
        .build()
        .unwrap();
    first.run(question()).await.unwrap();
    // Another session of the same agent: its own cache answers.
    let second = agent(&model, VisionStrategy::PerceiveThenAct)
        .shared_memory(memory.clone())
        .build()
        .unwrap();
    let again = Agent {
        observations: first.observations.clone(),
        ..second
    };
    let output = again.run(question()).await.unwrap();
    assert_eq!(output.answer, "3 again");
    assert_eq!(
        output.trace.steps[0].usage,
        Usage::default(),
        "no model call"
    );
    // A new agent (a new process, say) on the same store: the store answers.
    let fresh = agent(&model, VisionStrategy::PerceiveThenAct)
        .shared_memory(memory)
        .build()
        .unwrap();
    let output = fresh.run(question()).await.unwrap();
    assert_eq!(output.answer, "3 from the store");

    let requests = model.requests();
    assert_eq!(requests.len(), 4, "one observing call in all");
    assert_eq!(requests.iter().filter(|r| image_count(r) > 0).count(), 1);
    assert!(is_observation(output.trace.steps[0].assistant()));
}

#[tokio::test]
async fn another_question_about_the_same_image_is_observed_again() {
    let model = Arc::new(
        ScriptedModel::new()
            .then_text("three red squares")
            .then_text("3")
            .then_text("they are red")
            .then_text("red"),
    );
    let agent = agent(&model, VisionStrategy::PerceiveThenAct)
        .build()
        .unwrap();
    agent.run(question()).await.unwrap();
    agent
        .run(Message::user_with_images("What colour?", vec![photo()]))
        .await
        .unwrap();
    let observing = model
        .requests()
        .iter()
        .filter(|r| image_count(r) > 0)
        .count();
    assert_eq!(observing, 2);
}

#[tokio::test]
async fn later_turns_of_a_session_reuse_the_observation_in_the_history() {
    let model = Arc::new(
        ScriptedModel::new()
            .then_text("three red squares")
            .then_text("3")
            .then_text("still 3"),
    );
    let agent = agent(&model, VisionStrategy::PerceiveThenAct)
        .memory(InMemoryMemory::new())
        .build()
        .unwrap();
    agent.run(question()).await.unwrap();
    let output = agent.run("And now?").await.unwrap();
    assert_eq!(output.answer, "still 3");
    let last = model.requests().pop().unwrap();
    assert_eq!(image_count(&last), 0);
    assert!(last.messages.iter().any(is_observation));
}

#[tokio::test]
async fn direct_sends_the_image_with_the_tools() {
    let model = Arc::new(ScriptedModel::new().then_text("3"));
    let agent = agent(&model, VisionStrategy::Direct).build().unwrap();
    agent.run(question()).await.unwrap();
    let requests = model.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(image_count(&requests[0]), 1);
    assert!(!requests[0].tools.is_empty());
}

#[tokio::test]
async fn without_tools_the_model_sees_the_image_in_one_call() {
    let model = Arc::new(ScriptedModel::new().then_text("3"));
    let agent = Agent::builder()
        .shared_model(model.clone())
        .vision_strategy(VisionStrategy::PerceiveThenAct)
        .build()
        .unwrap();
    agent.run(question()).await.unwrap();
    let requests = model.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(image_count(&requests[0]), 1);
}

/// A model named like Llama 3.2 Vision.
struct Named(&'static str);

#[async_trait]
impl ChatModel for Named {
    async fn chat(&self, _: ChatRequest) -> Result<ChatResponse, ModelError> {
        Ok(ChatResponse::text(""))
    }
    fn name(&self) -> &str {
        self.0
    }
}

#[test]
fn the_default_follows_the_models_family_and_can_be_overridden() {
    let build = |name| Agent::builder().model(Named(name)).build().unwrap();
    assert_eq!(
        build("Llama-3.2-11B-Vision-Instruct").vision_strategy(),
        VisionStrategy::PerceiveThenAct
    );
    assert_eq!(
        build("gemma-3-4b-it").vision_strategy(),
        VisionStrategy::Direct
    );
    let chosen = Agent::builder()
        .model(Named("Llama-3.2-11B-Vision-Instruct"))
        .vision_strategy(VisionStrategy::Direct)
        .build()
        .unwrap();
    assert_eq!(chosen.vision_strategy(), VisionStrategy::Direct);
}
