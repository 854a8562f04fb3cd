//! A streamed run over `SqliteMemory`: every `StepFinished` event comes after its step was
//! committed, and the database shows exactly the steps finished so far.

use std::sync::Arc;

use argus_core::{
    async_trait, AgentEvent, ChatModel, ChatRequest, ChatResponse, ChatStream, ContextStrategy,
    ModelError, RunLog, ScriptedModel, SessionId,
};
use futures::StreamExt as _;
use serde_json::json;
use tokio::sync::Semaphore;

use super::{agent, TempDb};

/// Answers only when the test hands out a permit, so the database can be checked between
/// steps without the run racing ahead.
struct Gated {
    inner: ScriptedModel,
    permits: Arc<Semaphore>,
}

impl Gated {
    async fn wait(&self) -> Result<(), ModelError> {
        let permit = self.permits.acquire().await;
        permit
            .map_err(|_| ModelError::backend("gate closed"))?
            .forget();
        Ok(())
    }
}

#[async_trait]
impl ChatModel for Gated {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        self.wait().await?;
        self.inner.chat(request).await
    }

    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        self.wait().await?;
        self.inner.chat_stream(request).await
    }
}

#[tokio::test]
async fn each_step_is_committed_before_its_event() -> anyhow::Result<()> {
    let db = TempDb::new()?;
    let memory = db.open().await?;
    // A second handle on the file, as another process would read it.
    let observer = db.open().await?;
    let session = SessionId::new("streamed");
    let permits = Arc::new(Semaphore::new(1));
    let model = Gated {
        inner: ScriptedModel::new()
            .then_raw(
                "Let me compute that. \
                 {\"name\": \"calculator\", \"parameters\": {\"expression\": \"6 * 7\"}}",
            )
            .then_call("clock", json!({"timezone": "Asia/Tokyo"}))
            .then_text("6 * 7 is 42, as of the time in Tokyo."),
        permits: permits.clone(),
    };
    let agent = agent(Arc::new(model), &memory, &session);

    let mut stream = agent.run_stream("What is 6 * 7?");
    let mut committed = 1; // step 0, the input, is committed before the first model call
    let mut finished = Vec::new();
    let mut streamed_text = String::new();
    let mut output = None;
    while let Some(event) = stream.next().await {
        match event {
            AgentEvent::TextDelta { text, .. } => streamed_text.push_str(&text),
            AgentEvent::StepFinished { step } => {
                committed += 1 + step.tool_results().len();
                let run = observer.last_run(&session).await?.unwrap();
                assert_eq!(run.steps, step.index + 1, "{run:?}");
                assert_eq!(run.finished, step.assistant().tool_calls.is_empty());
                let context = observer
                    .load_context(&session, &ContextStrategy::Full)
                    .await?;
                assert_eq!(context.len(), committed);
                let tail = &context[committed - 1 - step.tool_results().len()..];
                assert_eq!(tail[0], *step.assistant());
                assert_eq!(tail[1..], step.tool_results()[..]);
                finished.push(step.index);
                permits.add_permits(1);
            }
            AgentEvent::Final { output: done } => output = Some(done),
            AgentEvent::Error { error } => panic!("the run failed: {error}"),
            _ => {}
        }
    }
    let output = output.expect("the stream ended without a final answer");
    assert_eq!(finished, [1, 2, 3]);
    assert_eq!(output.answer, "6 * 7 is 42, as of the time in Tokyo.");
    assert_eq!(output.trace.steps[0].tool_results()[0].text(), "42");
    let texts: String = output
        .trace
        .steps
        .iter()
        .map(|s| s.assistant().text())
        .collect();
    assert_eq!(streamed_text, texts);
    let run = observer.last_run(&session).await?.unwrap();
    assert_eq!(
        (run.run_id, run.steps, run.finished),
        (output.trace.run_id, 4, true)
    );
    Ok(())
}
