//! Everything the agent writes reads back identically, also through export and import.

use argus_core::{ContextStrategy, Memory, Message, NewSession, RunId, RunSummary, SessionId};
use argus_memory::SessionExport;
use serde_json::json;

use crate::common::rich_steps;
use crate::fixture::TestDb;

pub(crate) async fn write_rich_session(
    memory: &dyn Memory,
) -> anyhow::Result<(SessionId, Vec<Message>)> {
    let session = memory
        .create_session(NewSession {
            id: Some("rich".into()),
            title: "Everything".into(),
            metadata: json!({"model": "tiny", "tags": ["a", "b"], "n": 1.5}),
        })
        .await?
        .id;
    let mut all = Vec::new();
    for step in rich_steps() {
        memory.append_step(&session, &step).await?;
        all.extend(step.messages);
    }
    Ok((session, all))
}

pub(crate) async fn everything_written_reads_back_identically(db: TestDb) -> anyhow::Result<()> {
    let memory = db.open().await?;
    let (session, written) = write_rich_session(&*memory).await?;

    let context = memory
        .load_context(&session, &ContextStrategy::Full)
        .await?;
    assert_eq!(context, written);

    let steps = rich_steps();
    let run_1 = memory.run_steps(&session, &RunId::new("run-1")).await?;
    let logged: Vec<_> = run_1.iter().map(|l| l.step.clone()).collect();
    assert_eq!(logged, steps[..3]);
    assert!(run_1.iter().all(|l| l.committed_at_ms > 0));
    assert_eq!(
        memory.last_run(&session).await?,
        Some(RunSummary {
            run_id: RunId::new("run-2"),
            steps: 2,
            finished: false
        })
    );
    let info = memory.session(&session).await?;
    assert_eq!(info.message_count, written.len() as u64);
    assert_eq!(
        info.metadata,
        json!({"model": "tiny", "tags": ["a", "b"], "n": 1.5})
    );

    // Two distinct images, one referenced twice, are stored once each.
    assert_eq!(db.count_rows("images").await?, 2);

    // The same after closing and reopening the file.
    memory.close().await;
    let memory = db.open().await?;
    assert_eq!(
        memory
            .load_context(&session, &ContextStrategy::Full)
            .await?,
        written
    );
    memory.close().await;
    db.assert_consistent().await
}

pub(crate) async fn export_and_import_recreate_the_session_exactly(
    source_db: TestDb,
) -> anyhow::Result<()> {
    let source = source_db.open().await?;
    // Another session holds the bytes of an image the rich session refers to without them.
    let other = source
        .create_session(NewSession::named("other", "Other"))
        .await?
        .id;
    let carries = Message::user_with_images("here", vec![crate::common::image(9)]);
    let first = crate::common::step("r", 0, vec![carries], true);
    source.append_step(&other, &first).await?;
    let (session, written) = write_rich_session(&*source).await?;
    let export = source.export_session(&session).await?;
    assert_eq!(export.format, SessionExport::FORMAT);
    assert_eq!(export.steps.len(), 5);
    // The image referenced without bytes travels in `images`; the carried one does not.
    assert_eq!(export.images, [crate::common::image(9)]);

    let json = serde_json::to_string_pretty(&export)?;
    let parsed: SessionExport = serde_json::from_str(&json)?;

    let target_db = source_db.sibling().await?;
    let target = target_db.open().await?;
    let info = target.import_session(&parsed).await?;
    assert_eq!(info, export.session);
    assert_eq!(target.session(&session).await?, export.session);
    assert_eq!(
        target
            .load_context(&session, &ContextStrategy::Full)
            .await?,
        written
    );
    assert_eq!(
        target.last_run(&session).await?,
        source.last_run(&session).await?
    );
    let again = target.export_session(&session).await?;
    assert_eq!(serde_json::to_string_pretty(&again)?, json);

    // The imported session takes new steps where the old one left off.
    let next = argus_core::StepRecord {
        run_id: RunId::new("run-2"),
        index: 2,
        messages: vec![Message::assistant("done")],
        usage: Default::default(),
        is_final: true,
    };
    target.append_step(&session, &next).await?;

    // Importing twice is refused, and leaves the first import alone.
    assert!(matches!(
        target.import_session(&parsed).await,
        Err(argus_core::MemoryError::SessionExists(_))
    ));
    assert_eq!(
        target.session(&session).await?.message_count,
        written.len() as u64 + 1
    );
    target.close().await;
    target_db.assert_consistent().await
}

pub(crate) async fn an_inconsistent_export_imports_nothing(db: TestDb) -> anyhow::Result<()> {
    let memory = db.open().await?;
    let (session, _) = write_rich_session(&*memory).await?;
    let mut export = memory.export_session(&session).await?;
    export.session.id = "copy".into();
    export.steps.swap(1, 2);
    let result = memory.import_session(&export).await;
    assert!(matches!(
        result,
        Err(argus_core::MemoryError::StepOutOfOrder { .. })
    ));
    assert!(matches!(
        memory.session(&"copy".into()).await,
        Err(argus_core::MemoryError::SessionNotFound(_))
    ));
    Ok(())
}

/// Image metadata is kept per hash: a reference without bytes that claimed a wrong size is
/// corrected when the bytes arrive, and the bytes are stored once.
pub(crate) async fn image_bytes_fill_in_an_earlier_reference(db: TestDb) -> anyhow::Result<()> {
    let memory = db.open().await?;
    let id = memory.create_session(NewSession::named("s", "S")).await?.id;
    let real = crate::common::image(3);
    let mut claimed = real.without_data();
    claimed.byte_len = 1;
    claimed.media_type = "image/unknown".into();
    let first = crate::common::step(
        "r",
        0,
        vec![Message::user_with_images("a", vec![claimed])],
        false,
    );
    memory.append_step(&id, &first).await?;
    let second = crate::common::step(
        "r",
        1,
        vec![Message::user_with_images("b", vec![real.clone()])],
        false,
    );
    memory.append_step(&id, &second).await?;
    let context = memory.load_context(&id, &ContextStrategy::Full).await?;
    assert_eq!(context[0].images().next(), Some(&real.without_data()));
    assert_eq!(context[1].images().next(), Some(&real));
    assert_eq!(db.count_rows("images").await?, 1);
    Ok(())
}

pub(crate) async fn observations_outlive_the_handle_and_are_keyed_by_model_question_and_images(
    db: TestDb,
) -> anyhow::Result<()> {
    use argus_core::ObservationKey;
    let key = ObservationKey::new(vec!["ab".repeat(32)], "How many squares?", "tiny");
    {
        let memory = db.open().await?;
        assert_eq!(memory.observation(&key).await?, None);
        memory.save_observation(&key, "three squares").await?;
        memory.save_observation(&key, "three red squares").await?;
        memory.close().await;
    }
    let memory = db.open().await?;
    assert_eq!(
        memory.observation(&key).await?.as_deref(),
        Some("three red squares")
    );
    for other in [
        ObservationKey::new(key.images.clone(), "What colour?", "tiny"),
        ObservationKey::new(key.images.clone(), key.question.clone(), "other-model"),
        ObservationKey::new(vec!["cd".repeat(32)], key.question.clone(), "tiny"),
    ] {
        assert_eq!(memory.observation(&other).await?, None, "{other:?}");
    }
    Ok(())
}

pub(crate) async fn an_images_observations_go_with_its_last_session(
    db: TestDb,
) -> anyhow::Result<()> {
    use argus_core::{ImageRef, ObservationKey, StepRecord};
    let memory = db.open().await?;
    let photo = ImageRef::from_bytes(vec![1, 2, 3], "image/png");
    for id in ["a", "b"] {
        memory.create_session(NewSession::named(id, id)).await?;
        let step = StepRecord {
            run_id: RunId::new("r"),
            index: 0,
            messages: vec![Message::user_with_images("q", vec![photo.clone()])],
            usage: Default::default(),
            is_final: false,
        };
        memory.append_step(&id.into(), &step).await?;
    }
    let seen = ObservationKey::new(vec![photo.sha256.clone()], "q", "m");
    let elsewhere = ObservationKey::new(vec!["ab".repeat(32)], "q", "m");
    memory.save_observation(&seen, "three squares").await?;
    memory.save_observation(&elsewhere, "a circle").await?;

    memory.delete_session(&"a".into()).await?;
    assert!(
        memory.observation(&seen).await?.is_some(),
        "b still holds the image"
    );
    memory.delete_session(&"b".into()).await?;
    assert_eq!(memory.observation(&seen).await?, None);
    assert!(memory.observation(&elsewhere).await?.is_some());
    Ok(())
}
