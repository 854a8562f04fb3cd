//! Sessions and the run log behave like the reference `InMemoryMemory`.

use argus_core::{
    invalid_steps, ContextStrategy, ImageRef, InMemoryMemory, Memory, MemoryError, Message,
    NewSession, SessionExport, SessionStore,
};

use crate::common::{image, rich_steps, step};
use crate::fixture::TestDb;

pub(crate) async fn sessions_are_created_listed_renamed_and_deleted(
    db: TestDb,
) -> anyhow::Result<()> {
    let memory = db.open().await?;
    let a = memory.create_session(NewSession::named("a", "A")).await?;
    assert_eq!(a.message_count, 0);
    assert!(matches!(
        memory.create_session(NewSession::named("a", "again")).await,
        Err(MemoryError::SessionExists(_))
    ));
    let random = memory.create_session(NewSession::default()).await?;
    assert!(!random.id.as_str().is_empty());
    std::thread::sleep(std::time::Duration::from_millis(20));
    memory.rename_session(&"a".into(), "B").await?;
    let list = memory.list_sessions().await?;
    assert_eq!(list.len(), 2);
    assert_eq!((list[0].id.as_str(), list[0].title.as_str()), ("a", "B"));
    assert!(list[0].updated_at_ms > list[0].created_at_ms);

    memory.delete_session(&"a".into()).await?;
    for result in [
        memory.session(&"a".into()).await.map(|_| ()),
        memory.rename_session(&"a".into(), "C").await,
        memory.delete_session(&"a".into()).await,
        memory
            .append_step(&"a".into(), &step("r", 0, vec![], false))
            .await,
        memory.last_run(&"a".into()).await.map(|_| ()),
        memory
            .load_context(&"a".into(), &ContextStrategy::Full)
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(MemoryError::SessionNotFound(_))),
            "{result:?}"
        );
    }
    Ok(())
}

pub(crate) async fn step_ordering_rules_match_the_reference(db: TestDb) -> anyhow::Result<()> {
    let store = db.open().await?;
    let reference = InMemoryMemory::new();
    let memories: [&dyn Memory; 2] = [&*store, &reference];
    for memory in memories {
        let id = memory.create_session(NewSession::named("s", "S")).await?.id;
        let user = |text: &str| vec![Message::user(text)];
        memory
            .append_step(&id, &step("r", 0, user("a"), false))
            .await?;
        let gap = memory
            .append_step(&id, &step("r", 2, user("c"), false))
            .await;
        assert!(matches!(
            gap,
            Err(MemoryError::StepOutOfOrder {
                index: 2,
                expected: 1,
                ..
            })
        ));
        let replay = memory
            .append_step(&id, &step("r", 0, user("a"), false))
            .await;
        assert!(matches!(
            replay,
            Err(MemoryError::StepOutOfOrder { expected: 1, .. })
        ));
        let fresh = memory
            .append_step(&id, &step("other", 1, user("x"), false))
            .await;
        assert!(matches!(
            fresh,
            Err(MemoryError::StepOutOfOrder { expected: 0, .. })
        ));
        memory
            .append_step(&id, &step("r", 1, user("b"), true))
            .await?;
        let after_final = memory
            .append_step(&id, &step("r", 2, user("c"), false))
            .await;
        assert!(matches!(after_final, Err(MemoryError::RunFinished(_))));
        // A second run, then a step of the first run's sibling: the last run is the newest.
        memory
            .append_step(&id, &step("r2", 0, user("d"), false))
            .await?;
        let run = memory.last_run(&id).await?.unwrap();
        assert_eq!(
            (run.run_id.as_str(), run.steps, run.finished),
            ("r2", 1, false)
        );
        assert_eq!(memory.session(&id).await?.message_count, 3);
        let texts: Vec<String> = memory
            .load_context(&id, &ContextStrategy::Full)
            .await?
            .iter()
            .map(Message::text)
            .collect();
        assert_eq!(texts, ["a", "b", "d"]);
    }
    Ok(())
}

pub(crate) async fn deleting_a_session_removes_only_its_orphaned_images(
    db: TestDb,
) -> anyhow::Result<()> {
    let memory = db.open().await?;
    let shared = image(1);
    let own = image(2);
    let one = memory
        .create_session(NewSession::named("one", "1"))
        .await?
        .id;
    let two = memory
        .create_session(NewSession::named("two", "2"))
        .await?
        .id;
    let with = |images| vec![Message::user_with_images("look", images)];
    memory
        .append_step(&one, &step("r", 0, with(vec![shared.clone(), own]), false))
        .await?;
    memory
        .append_step(
            &two,
            &step("r", 0, with(vec![shared.without_data()]), false),
        )
        .await?;
    assert_eq!(db.count_rows("images").await?, 2);

    memory.delete_session(&one).await?;
    assert_eq!(db.count_rows("images").await?, 1);
    assert_eq!(db.count_rows("messages").await?, 1);
    assert_eq!(db.count_rows("steps").await?, 1);
    let context = memory.load_context(&two, &ContextStrategy::Full).await?;
    assert_eq!(context[0].images().next(), Some(&shared.without_data()));

    memory.delete_session(&two).await?;
    for table in [
        "images",
        "messages",
        "message_parts",
        "runs",
        "steps",
        "tool_calls",
    ] {
        assert_eq!(db.count_rows(table).await?, 0, "{table}");
    }
    memory.close().await;
    db.assert_consistent().await
}

/// The store and the reference reject every step of the kernel's table of invalid steps, write nothing of
/// them, and accept the same valid steps; an export holding an invalid step is refused by both.
pub(crate) async fn the_store_accepts_and_rejects_the_same_steps_as_the_reference(
    db: TestDb,
) -> anyhow::Result<()> {
    let store = db.open().await?;
    let reference = InMemoryMemory::new();
    let memories: [(&str, &dyn Memory); 2] = [("store", &*store), ("in-memory", &reference)];
    let good = rich_steps();
    for (name, memory) in memories {
        let id = memory.create_session(NewSession::named("s", "S")).await?.id;
        for (what, bad) in invalid_steps() {
            let result = memory.append_step(&id, &bad).await;
            assert!(
                matches!(&result, Err(MemoryError::InvalidInput(_))),
                "{name} accepted a step with {what}: {result:?}"
            );
        }
        assert_eq!(memory.session(&id).await?.message_count, 0, "{name}");
        assert_eq!(memory.last_run(&id).await?, None, "{name}");
        for step in &good {
            memory.append_step(&id, step).await?;
        }

        let export = memory.export_session(&id).await?;
        for (what, bad) in invalid_steps() {
            let mut tampered: SessionExport = export.clone();
            tampered.session.id = "copy".into();
            tampered.steps[0].step.messages = bad.messages;
            let result = memory.import_session(&tampered).await;
            assert!(
                matches!(&result, Err(MemoryError::InvalidInput(_))),
                "{name} imported a step with {what}: {result:?}"
            );
        }
        assert!(matches!(
            memory.session(&"copy".into()).await,
            Err(MemoryError::SessionNotFound(_))
        ));
    }
    let steps = |export: SessionExport| -> Vec<_> {
        export.steps.into_iter().map(|logged| logged.step).collect()
    };
    let (store_steps, reference_steps) = (
        steps(store.export_session(&"s".into()).await?),
        steps(reference.export_session(&"s".into()).await?),
    );
    assert_eq!(store_steps, good);
    assert_eq!(reference_steps, good);
    store.close().await;
    db.assert_consistent().await
}

pub(crate) async fn images_whose_bytes_do_not_match_their_hash_are_rejected(
    db: TestDb,
) -> anyhow::Result<()> {
    let memory = db.open().await?;
    let session = memory.create_session(NewSession::named("s", "S")).await?.id;
    let mut wrong = ImageRef::from_bytes(b"abc".to_vec(), "image/png");
    wrong.sha256 = ImageRef::from_bytes(b"abd".to_vec(), "image/png").sha256;
    let mut short = ImageRef::from_bytes(b"abc".to_vec(), "image/png");
    short.byte_len = 2;
    let mut not_hex = ImageRef::from_bytes(b"abc".to_vec(), "image/png").without_data();
    not_hex.sha256 = "../../etc/passwd".into();
    for image in [wrong, short, not_hex] {
        let bad = step(
            "r",
            0,
            vec![Message::user_with_images("x", vec![image])],
            false,
        );
        let result = memory.append_step(&session, &bad).await;
        assert!(
            matches!(&result, Err(MemoryError::InvalidInput(_)))
                && result
                    .as_ref()
                    .is_err_and(|e| e.to_string().contains("invalid input")),
            "{result:?}"
        );
    }
    // Nothing of the rejected steps was written.
    assert_eq!(memory.session(&session).await?.message_count, 0);
    assert_eq!(memory.last_run(&session).await?, None);
    assert_eq!(db.count_rows("images").await?, 0);
    Ok(())
}

/// The fixture's consistency check is no formality: each way of breaking the log beneath the
/// API is caught.
pub(crate) async fn the_consistency_check_catches_a_tampered_log(db: TestDb) -> anyhow::Result<()> {
    let tampering = [
        "UPDATE sessions SET message_count = message_count + 1",
        "UPDATE messages SET position = position + 100 WHERE position = 3",
        "UPDATE steps SET first_position = first_position + 1 WHERE idx = 2",
        "UPDATE runs SET steps = steps + 1 WHERE run_id = 'run-2'",
        "UPDATE messages SET tool_call_id = 'elsewhere' WHERE tool_call_id = 'call_clock'",
        "DELETE FROM tool_calls WHERE call_id = 'call_clock'",
        "UPDATE tool_calls SET ord = 5 WHERE call_id = 'call_clock'",
    ];
    let write = async |db: &TestDb| {
        let memory = db.open().await?;
        let id = memory.create_session(NewSession::named("s", "S")).await?.id;
        for step in rich_steps() {
            memory.append_step(&id, &step).await?;
        }
        memory.close().await;
        anyhow::Ok(())
    };
    write(&db).await?;
    db.assert_consistent().await?;
    for sql in tampering {
        let tampered = db.sibling().await?;
        write(&tampered).await?;
        tampered.execute(sql).await?;
        assert!(
            tampered.assert_consistent().await.is_err(),
            "not caught: {sql}"
        );
    }
    Ok(())
}
