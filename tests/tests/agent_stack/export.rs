//! A session exported to JSON and imported into another database file: the copy is exact,
//! failed tool calls included, and an agent continues the conversation on it.

use std::sync::Arc;

use argus_core::{
    ContextStrategy, MemoryError, Role, RunLog, ScriptedModel, SessionId, SessionStore,
    ToolErrorKind,
};
use argus_memory::SessionExport;
use serde_json::json;

use super::{agent, TempDb};

#[tokio::test]
async fn an_exported_session_is_imported_exactly_and_continues() -> anyhow::Result<()> {
    let source_db = TempDb::new()?;
    let source = source_db.open().await?;
    let session = SessionId::new("budget");
    let model = Arc::new(
        ScriptedModel::new()
            .then_call("calculator", json!({"expression": "1200 / 0"}))
            .then_call("calculator", json!({"expression": "1200 / 4"}))
            .then_text("Each of the 4 rooms gets 300."),
    );
    let output = agent(model, &source, &session)
        .run("Split 1200 across the rooms.")
        .await?;
    assert_eq!(output.trace.steps.len(), 3);

    // Export, through JSON text, into a second database file.
    let export = source.export_session(&session).await?;
    let json = serde_json::to_string_pretty(&export)?;
    let parsed: SessionExport = serde_json::from_str(&json)?;
    assert_eq!(parsed, export);
    let copy_db = TempDb::new()?;
    let copy = copy_db.open().await?;
    let info = copy.import_session(&parsed).await?;
    assert_eq!(info, export.session);
    assert_eq!(copy.export_session(&session).await?, export);
    let context = source
        .load_context(&session, &ContextStrategy::Full)
        .await?;
    assert_eq!(
        copy.load_context(&session, &ContextStrategy::Full).await?,
        context
    );
    assert_eq!(
        copy.last_run(&session).await?,
        source.last_run(&session).await?
    );

    // The failed call kept its error kind; the model read the explanation.
    let failed = &context[2];
    assert_eq!(failed.role, Role::Tool);
    let failure = failed.tool_result.as_ref().unwrap();
    assert_eq!(failure.error, Some(ToolErrorKind::Failed));
    assert!(
        failed.text().contains("division by zero"),
        "{}",
        failed.text()
    );
    assert_eq!(context[4].text(), "300");

    // Importing the same session twice is refused.
    assert!(matches!(
        copy.import_session(&parsed).await,
        Err(MemoryError::SessionExists(id)) if id == session
    ));

    // An agent on the copy continues the conversation; the original is untouched.
    let model = Arc::new(ScriptedModel::new().then_text("You're welcome."));
    agent(model.clone(), &copy, &session).run("Thanks!").await?;
    assert_eq!(model.requests()[0].messages.len(), 1 + context.len() + 1);
    assert_eq!(
        copy.session(&session).await?.message_count,
        context.len() as u64 + 2
    );
    assert_eq!(
        source.session(&session).await?.message_count,
        context.len() as u64
    );
    Ok(())
}
