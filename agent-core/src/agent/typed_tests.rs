//! Typed runs on the scripted model: which requests carry the schema, drafts, repairs, errors.

use std::sync::Arc;

use futures::StreamExt as _;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::*;

#[derive(Debug, Deserialize, JsonSchema, PartialEq)]
struct Count {
    /// How many squares.
    squares: u32,
    /// Their colour.
    colour: String,
}

#[derive(Deserialize, JsonSchema)]
struct AddArgs {
    a: i64,
    b: i64,
}

fn add() -> FnTool {
    tool_fn("add", "Adds two integers.", |x: AddArgs| async move {
        Ok::<_, String>(x.a + x.b)
    })
}

const VALID: &str = r#"{"squares": 3, "colour": "red"}"#;

fn expected() -> Count {
    Count {
        squares: 3,
        colour: "red".into(),
    }
}

#[tokio::test]
async fn without_tools_the_first_call_carries_the_schema() {
    let model = Arc::new(ScriptedModel::new().then_text(VALID));
    let agent = Agent::builder()
        .shared_model(model.clone())
        .build()
        .unwrap();
    assert_eq!(agent.run_typed::<Count>("count").await.unwrap(), expected());
    let requests = model.requests();
    assert_eq!(requests.len(), 1);
    let schema = requests[0].output_schema.as_ref().unwrap();
    assert_eq!(schema.name, "Count");
    assert_eq!(schema.schema["required"], json!(["squares", "colour"]));
}

#[tokio::test]
async fn a_draft_after_the_tools_is_written_again_under_the_schema_without_tools() {
    let model = Arc::new(
        ScriptedModel::new()
            .then_call("add", json!({"a": 1, "b": 2}))
            .then_text("There are 3 red squares.")
            .then_text(VALID),
    );
    let memory = Arc::new(InMemoryMemory::new());
    let agent = Agent::builder()
        .shared_model(model.clone())
        .tool(add())
        .shared_memory(memory.clone())
        .session("typed")
        .build()
        .unwrap();
    assert_eq!(agent.run_typed::<Count>("count").await.unwrap(), expected());
    let requests = model.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests[..2] {
        assert!(request.output_schema.is_none());
        assert_eq!(request.tools.len(), 1);
    }
    let last = &requests[2];
    assert!(last.output_schema.is_some());
    assert!(last.tools.is_empty(), "the answer is written without tools");
    assert_eq!(
        last.messages.last().unwrap().text(),
        "There are 3 red squares.",
        "the draft is in the history"
    );
    // Everything is committed; the run finished with the value as its answer.
    let context = memory
        .load_context(&"typed".into(), &ContextStrategy::Full)
        .await
        .unwrap();
    assert_eq!(context.last().unwrap().text(), VALID);
    let run = memory.last_run(&"typed".into()).await.unwrap().unwrap();
    assert!(run.finished);
}

#[tokio::test]
async fn a_valid_answer_from_the_tool_steps_needs_no_extra_call() {
    let model = Arc::new(
        ScriptedModel::new()
            .then_call("add", json!({"a": 1, "b": 2}))
            .then_text(format!("```json\n{VALID}\n```")),
    );
    let agent = Agent::builder()
        .shared_model(model.clone())
        .tool(add())
        .build()
        .unwrap();
    assert_eq!(agent.run_typed::<Count>("count").await.unwrap(), expected());
    assert_eq!(model.requests().len(), 2);
}

#[tokio::test]
async fn an_invalid_value_is_fed_back_once_for_a_repair() {
    let model = Arc::new(
        ScriptedModel::new()
            .then_text(r#"{"squares": -1, "colour": "red"}"#)
            .then_text(VALID),
    );
    let agent = Agent::builder()
        .shared_model(model.clone())
        .build()
        .unwrap();
    assert_eq!(agent.run_typed::<Count>("count").await.unwrap(), expected());
    let repair = model.requests()[1].messages.last().unwrap().clone();
    assert_eq!(repair.role, Role::User);
    assert!(
        repair.text().contains("not a valid value"),
        "{}",
        repair.text()
    );
}

#[tokio::test]
async fn a_second_invalid_value_is_a_typed_error_carrying_the_raw_text() {
    let memory = Arc::new(InMemoryMemory::new());
    let model = Arc::new(
        ScriptedModel::new()
            .then_text("three")
            .then_text(r#"{"squares": 3}"#),
    );
    let agent = Agent::builder()
        .shared_model(model)
        .shared_memory(memory.clone())
        .session("bad")
        .build()
        .unwrap();
    let error = agent.run_typed::<Count>("count").await.unwrap_err();
    let AgentError::InvalidOutput { raw, reason, trace } = error else {
        panic!("{error:?}")
    };
    assert_eq!(raw, r#"{"squares": 3}"#);
    assert!(reason.contains("colour"), "{reason}");
    assert_eq!(trace.steps.len(), 2);
    // Nothing is lost: both answers and the feedback are stored.
    let context = memory
        .load_context(&"bad".into(), &ContextStrategy::Full)
        .await
        .unwrap();
    let texts: Vec<String> = context.iter().map(Message::text).collect();
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert_eq!(texts[3], raw);
}

#[tokio::test]
async fn the_stream_ends_with_the_value() {
    let model = Arc::new(ScriptedModel::new().then_text(VALID));
    let agent = Agent::builder().shared_model(model).build().unwrap();
    let mut stream = agent.run_typed_stream::<Count>("count");
    let mut last = None;
    while let Some(event) = stream.next().await {
        last = Some(event);
    }
    let Some(AgentEvent::Final { output }) = last else {
        panic!("{last:?}")
    };
    assert_eq!(output.parse::<Count>().unwrap(), expected());
    assert_eq!(
        output.structured,
        Some(serde_json::from_str(VALID).unwrap())
    );
}

#[tokio::test]
async fn an_untyped_run_has_no_value() {
    let model = Arc::new(ScriptedModel::new().then_text(VALID));
    let agent = Agent::builder()
        .shared_model(model.clone())
        .build()
        .unwrap();
    let output = agent.run("count").await.unwrap();
    assert!(output.structured.is_none());
    assert!(output.parse::<Count>().is_err());
    assert!(model.requests()[0].output_schema.is_none());
}
