//! Two agents on one session with a simulated restart in between: everything dropped, the
//! database closed and opened again.

use std::sync::Arc;

use argus_core::{
    AgentError, ContextStrategy, Message, Role, RunLog, ScriptedModel, SearchHit, SessionId,
    SessionStore, ToolCall,
};
use serde_json::{json, Value};

use super::{agent, TempDb, SYSTEM};

#[tokio::test]
async fn after_a_restart_the_session_continues_and_recall_finds_the_earlier_fact(
) -> anyhow::Result<()> {
    let db = TempDb::new()?;
    let session = SessionId::new("locker");
    let input = "My locker code is 4711. What is 15% of 12000, and the time in Lisbon?";

    // First "process": two tools in one step, then an answer.
    let first = {
        let memory = db.open().await?;
        let model = Arc::new(
            ScriptedModel::new()
                .then_calls(vec![
                    ToolCall::new("calculator", json!({"expression": "12000 * 15 / 100"})),
                    ToolCall::new("clock", json!({"timezone": "Europe/Lisbon"})),
                ])
                .then_text("15% of 12000 is 1800. I noted your locker code."),
        );
        let output = agent(model, &memory, &session).run(input).await?;
        memory.close().await;
        output
    };
    let steps = &first.trace.steps;
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0].tool_results()[0].text(), "1800");
    let clock: Value = serde_json::from_str(&steps[0].tool_results()[1].text())?;
    assert_eq!(clock["timezone"], "Europe/Lisbon", "{clock}");

    // Second "process": a new handle on the same file, a new agent, the same session.
    let memory = db.open().await?;
    let model = Arc::new(
        ScriptedModel::new()
            .then_call("recall", json!({"query": "locker code"}))
            .then_text("Your locker code is 4711."),
    );
    let agent = agent(model.clone(), &memory, &session);
    let second = agent.run("What was my locker code?").await?;
    assert_eq!(second.answer, "Your locker code is 4711.");

    // The model's first request: system prompt, the first run exactly as committed, new input.
    let mut expected = vec![Message::system(SYSTEM), Message::user(input)];
    for step in steps {
        expected.push(step.assistant().clone());
        expected.extend(step.tool_results().iter().cloned());
    }
    expected.push(Message::user("What was my locker code?"));
    assert_eq!(model.requests()[0].messages, expected);

    // `recall` searched this session and found the first run's input.
    let recall = &second.trace.steps[0].tool_results()[0];
    let info = recall.tool_result.as_ref().unwrap();
    assert_eq!(
        (info.name.as_str(), info.error),
        ("recall", None),
        "{}",
        recall.text()
    );
    let hits: Vec<SearchHit> = serde_json::from_str(&recall.text())?;
    assert!(
        hits.iter().all(|hit| hit.session_id == session),
        "{hits:#?}"
    );
    let fact = hits
        .iter()
        .find(|hit| hit.position == 0)
        .expect("no hit on the first input");
    assert_eq!(fact.role, Role::User);
    assert!(fact.snippet.contains("4711"), "{}", fact.snippet);

    // The run log: the second run finished in 3 steps (input, call, answer); nothing to resume.
    let last = memory.last_run(&session).await?.unwrap();
    assert_eq!(last.run_id, second.trace.run_id);
    assert_eq!((last.steps, last.finished), (3, true));
    assert!(matches!(
        agent.resume().await,
        Err(AgentError::NothingToResume)
    ));
    // 5 messages per run 1 (input, calls, 2 results, answer), 4 for run 2.
    assert_eq!(memory.session(&session).await?.message_count, 9);
    let context = memory
        .load_context(&session, &ContextStrategy::Full)
        .await?;
    let (answer, before) = context.split_last().unwrap();
    assert_eq!(before, &model.requests()[1].messages.to_vec()[1..]);
    assert_eq!(answer, &second.message);
    Ok(())
}

#[tokio::test]
async fn recall_stays_in_its_session_unless_asked_for_all() -> anyhow::Result<()> {
    let db = TempDb::new()?;
    let memory = db.open().await?;
    let trip = SessionId::new("trip");
    let model = Arc::new(ScriptedModel::new().then_text("Booked."));
    agent(model, &memory, &trip)
        .run("The hotel in Porto is the Casa Azul.")
        .await?;

    let work = SessionId::new("work");
    let model = Arc::new(
        ScriptedModel::new()
            .then_call("recall", json!({"query": "Porto hotel"}))
            .then_call(
                "recall",
                json!({"query": "Porto hotel", "all_sessions": true}),
            )
            .then_text("The Casa Azul."),
    );
    let output = agent(model, &memory, &work)
        .run("Which hotel did I pick?")
        .await?;
    let scoped: Vec<SearchHit> =
        serde_json::from_str(&output.trace.steps[0].tool_results()[0].text())?;
    assert!(scoped.is_empty(), "{scoped:#?}");
    let everywhere: Vec<SearchHit> =
        serde_json::from_str(&output.trace.steps[1].tool_results()[0].text())?;
    assert_eq!(everywhere.len(), 1, "{everywhere:#?}");
    assert_eq!(everywhere[0].session_id, trip);
    assert!(everywhere[0].snippet.contains("Casa Azul"));
    Ok(())
}
