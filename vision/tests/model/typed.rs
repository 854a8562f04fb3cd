//! Typed runs on the tiny mllama: the grammar makes random weights write a valid value, with
//! and without a tool step before it.

use argus_core::{Agent, AgentError};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{calculator, mllama, CallOnceThenAnswer};

/// What the test asks for.
#[derive(Debug, Deserialize, JsonSchema)]
#[allow(dead_code)] // read through Debug
struct Reading {
    /// A label.
    #[schemars(length(max = 12))]
    label: String,
    /// A count.
    #[schemars(range(max = 1000))]
    count: u16,
    /// Whether it is certain.
    certain: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_weights_write_a_valid_value_under_the_grammar() -> Result<(), AgentError> {
    let dir = tempfile::tempdir().unwrap();
    let model = mllama(dir.path()).await;
    let agent = Agent::builder()
        .model(model.clone())
        .max_tokens(120)
        .build()
        .unwrap();
    let reading: Reading = agent.run_typed("Read the gauge.").await?;
    assert!(reading.label.chars().count() <= 12, "{reading:?}");
    assert!(reading.count <= 1000);

    // A tool step first: its draft answer is random text, written again under the schema.
    let agent = Agent::builder()
        .model(CallOnceThenAnswer(model))
        .tool(calculator())
        .max_tokens(160)
        .max_steps(4)
        .build()
        .unwrap();
    let mut stream = agent.run_typed_stream::<Reading>("Add 2 and 3, then read the gauge.");
    let mut output = None;
    while let Some(event) = futures::StreamExt::next(&mut stream).await {
        match event {
            argus_core::AgentEvent::Final { output: done } => output = Some(done),
            argus_core::AgentEvent::Error { error } => return Err(error),
            _ => {}
        }
    }
    let output = output.unwrap();
    let steps = &output.trace.steps;
    assert_eq!(steps[0].assistant().tool_calls[0].name, "calculator");
    let reading: Reading = output.parse().unwrap();
    assert!(reading.count <= 1000);
    assert_eq!(output.answer, steps.last().unwrap().assistant().text());
    Ok(())
}
