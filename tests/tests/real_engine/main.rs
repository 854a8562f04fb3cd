//! The whole stack on a real mistral.rs engine: `MistralRsModel` on a tiny generated GGUF
//! (random weights, so the text is arbitrary), `SqliteMemory` on a file, and the calculator
//! of `argus-tools` called under a grammar-constrained (`Required`) tool choice.

#![allow(clippy::unwrap_used)]

use argus_core::{
    validate_arguments, Agent, ContextStrategy, Message, RunLog, SessionId, SessionStore,
    ToolErrorKind,
};
use argus_memory::SqliteMemory;
use argus_tools::Calculator;
use argus_vision::testkit::{write_gguf, CallOnceThenAnswer, GgufSpec};
use argus_vision::{GrammarBounds, MistralRsModel, ModelSource};

/// Longest calculator expression the grammar lets the model write.
const MAX_EXPRESSION: u32 = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_calculator_call_runs_to_an_answer_and_every_step_is_stored() -> anyhow::Result<()>
{
    let dir = tempfile::tempdir()?;
    let gguf = dir.path().join("tiny-llama.gguf");
    write_gguf(&gguf, &GgufSpec::default())?;
    let engine = MistralRsModel::builder(ModelSource::gguf(&gguf))
        .with_grammar_bounds(GrammarBounds {
            max_string_len: MAX_EXPRESSION,
            ..GrammarBounds::default()
        })
        .build()
        .await?;
    let db = dir.path().join("memory.db");
    let memory = SqliteMemory::open(&db).await?;
    let session = SessionId::new("engine");
    let agent = Agent::builder()
        .model(CallOnceThenAnswer(engine.clone()))
        .system_prompt("You are a careful assistant. Use the calculator for arithmetic.")
        .tool(Calculator)
        .memory(memory.clone())
        .session(session.clone())
        // Room for the longest call the grammar allows: 24 characters (each up to 4
        // byte-level tokens) plus the JSON around them.
        .max_tokens(160)
        .max_steps(4)
        .build()?;
    let schema = agent.tools().specs()[0].parameters.clone();

    let output = agent.run("What is 17 * 23? Use the calculator.").await?;
    let steps = &output.trace.steps;
    assert_eq!(steps.len(), 2, "{steps:#?}");
    // Step 1: one call of the calculator, with arguments valid against its schema.
    let calls = &steps[0].assistant().tool_calls;
    assert_eq!(calls.len(), 1, "{:#?}", steps[0]);
    assert_eq!(calls[0].name, "calculator");
    if let Err(violation) = validate_arguments(&schema, &calls[0].arguments) {
        panic!("{:?} breaks the schema: {violation:?}", calls[0].arguments);
    }
    let expression = calls[0].arguments["expression"].as_str().unwrap();
    assert!(
        expression.chars().count() <= MAX_EXPRESSION as usize,
        "{expression:?}"
    );
    // The registry ran it: random weights write random expressions, so the calculator may
    // refuse one, but only as the tool's own failure, never as invalid arguments.
    let result = steps[0].tool_results()[0].tool_result.as_ref().unwrap();
    assert_eq!(result.call_id, calls[0].id);
    assert!(
        matches!(result.error, None | Some(ToolErrorKind::Failed)),
        "{:?}: {}",
        result.error,
        steps[0].tool_results()[0].text()
    );
    // Step 2: the final answer, with the tool result in its prompt.
    assert!(steps[1].assistant().tool_calls.is_empty());
    assert_eq!(output.answer, steps[1].assistant().text());
    assert!(steps[1].usage.prompt_tokens > steps[0].usage.prompt_tokens);
    assert!(steps.iter().all(|s| s.usage.completion_tokens > 0));

    // Every step is in the database, and reads back the same after reopening it.
    let run = memory.last_run(&session).await?.unwrap();
    assert_eq!((run.steps, run.finished), (3, true));
    drop(agent);
    memory.close().await;
    let reopened = SqliteMemory::open(&db).await?;
    let context = reopened
        .load_context(&session, &ContextStrategy::Full)
        .await?;
    let mut expected = vec![Message::user("What is 17 * 23? Use the calculator.")];
    for step in steps {
        expected.push(step.assistant().clone());
        expected.extend(step.tool_results().iter().cloned());
    }
    assert_eq!(context, expected);

    // A second run on the reopened session: the engine gets the stored conversation back.
    let agent = Agent::builder()
        .model(CallOnceThenAnswer(engine))
        .system_prompt("You are a careful assistant. Use the calculator for arithmetic.")
        .tool(Calculator)
        .memory(reopened.clone())
        .session(session.clone())
        .max_tokens(160)
        .max_steps(4)
        .build()?;
    let again = agent.run("And 2 + 2?").await?;
    assert_eq!(again.trace.steps.len(), 2);
    assert!(again.trace.steps[0].usage.prompt_tokens > steps[1].usage.prompt_tokens);
    assert_eq!(reopened.session(&session).await?.message_count, 8);
    Ok(())
}

mod perceive;
