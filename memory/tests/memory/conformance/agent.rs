//! Two agents, each with its own store handle (as two processes would have), on one session:
//! the second fails busy, or waits for the first run to end, and their steps never interleave.

use std::time::{Duration, Instant};

use argus_core::{
    Agent, AgentError, ChatResponse, ContextStrategy, MemoryError, Message, RunId, ScriptedModel,
};

use crate::fixture::{Store, TestDb};

const SESSION: &str = "shared";

fn agent(store: &Store, model: ScriptedModel, wait: Duration) -> anyhow::Result<Agent> {
    Ok(Agent::builder()
        .model(model)
        .memory(store.shared())
        .session(SESSION)
        .session_wait(wait)
        .build()?)
}

pub(crate) async fn a_second_agent_on_a_running_session_fails_busy_or_waits_its_turn(
    db: TestDb,
) -> anyhow::Result<()> {
    let (first_store, second_store) = (db.open().await?, db.open().await?);
    let slow = ScriptedModel::new().then_after(Duration::from_secs(3), ChatResponse::text("one"));
    let first = agent(&first_store, slow, Duration::ZERO)?;
    let running = tokio::spawn(async move { first.run("first question").await });

    // The first run holds the session once its input is committed, then waits for its model.
    let started = Instant::now();
    while second_store
        .last_run(&SESSION.into())
        .await
        .ok()
        .flatten()
        .is_none()
    {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "the first run never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let impatient = agent(
        &second_store,
        ScriptedModel::new().then_text("never"),
        Duration::ZERO,
    )?;
    let busy = impatient.run("impatient question").await.unwrap_err();
    let AgentError::Memory {
        source: MemoryError::SessionBusy { session, waited },
        ..
    } = &busy
    else {
        anyhow::bail!("expected SessionBusy, got {busy:?}");
    };
    assert_eq!((session.as_str(), *waited), (SESSION, Duration::ZERO));
    assert!(
        !running.is_finished(),
        "the first run ended before the second started: the test proves nothing"
    );

    let patient = agent(
        &second_store,
        ScriptedModel::new().then_after(Duration::from_millis(50), ChatResponse::text("two")),
        Duration::from_secs(60),
    )?;
    let second = patient.run("second question").await?;
    assert_eq!(second.answer, "two");
    assert!(
        running.is_finished(),
        "the second run ended while the first was running"
    );
    assert_eq!(running.await??.answer, "one");

    // Two runs (the busy one wrote nothing), each a block of consecutive steps.
    let export = first_store.export_session(&SESSION.into()).await?;
    let order: Vec<&RunId> = export.steps.iter().map(|s| &s.step.run_id).collect();
    let mut blocks = order.clone();
    blocks.dedup();
    assert_eq!(blocks.len(), 2, "runs interleaved or missing: {order:?}");
    assert_eq!(order.len(), 4, "{order:?}");
    let texts: Vec<String> = first_store
        .load_context(&SESSION.into(), &ContextStrategy::Full)
        .await?
        .iter()
        .map(Message::text)
        .collect();
    assert_eq!(texts, ["first question", "one", "second question", "two"]);
    first_store.close().await;
    second_store.close().await;
    db.assert_consistent().await
}
