//! Session leases: one holder per session at a time, across store handles (as across
//! processes); a waiter gets the session when its holder lets go.

use std::time::{Duration, Instant};

use argus_core::{MemoryError, SessionId};

use crate::fixture::TestDb;

/// Far more than a free session takes, so a slow machine does not fail the tests.
const PLENTY: Duration = Duration::from_secs(10);

fn assert_busy(
    result: Result<argus_core::SessionLease, MemoryError>,
    session: &SessionId,
    wait: Duration,
) {
    assert!(
        matches!(&result, Err(MemoryError::SessionBusy { session: s, waited })
            if s == session && *waited == wait),
        "{result:?}"
    );
}

pub(crate) async fn a_held_session_is_busy_for_the_wait_then_refused(
    db: TestDb,
) -> anyhow::Result<()> {
    let (holder, other) = (db.open().await?, db.open().await?);
    let session = SessionId::new("held");
    let lease = holder.lock_session(&session, Duration::ZERO).await?;
    assert!(lease.is_exclusive());

    let wait = Duration::from_millis(300);
    for store in [&holder, &other] {
        let started = Instant::now();
        assert_busy(store.lock_session(&session, wait).await, &session, wait);
        let waited = started.elapsed();
        assert!(
            waited >= wait && waited < wait + PLENTY,
            "refused after {waited:?}"
        );
        assert_busy(
            store.lock_session(&session, Duration::ZERO).await,
            &session,
            Duration::ZERO,
        );
    }
    lease.release().await;
    Ok(())
}

pub(crate) async fn a_released_session_can_be_held_again_at_once(db: TestDb) -> anyhow::Result<()> {
    let (first, second) = (db.open().await?, db.open().await?);
    let session = SessionId::new("s");
    for store in [&first, &second, &first] {
        let lease = store.lock_session(&session, Duration::ZERO).await?;
        lease.release().await;
    }
    Ok(())
}

pub(crate) async fn a_dropped_lease_frees_the_session(db: TestDb) -> anyhow::Result<()> {
    let (first, second) = (db.open().await?, db.open().await?);
    let session = SessionId::new("s");
    let lease = first.lock_session(&session, Duration::ZERO).await?;
    assert_busy(
        second.lock_session(&session, Duration::ZERO).await,
        &session,
        Duration::ZERO,
    );
    drop(lease);
    // Dropping may release in the background (a PostgreSQL connection closing).
    let again = second.lock_session(&session, PLENTY).await?;
    assert!(again.is_exclusive());
    Ok(())
}

pub(crate) async fn holding_one_session_leaves_the_others_free(db: TestDb) -> anyhow::Result<()> {
    let (first, second) = (db.open().await?, db.open().await?);
    let held = first.lock_session(&"a".into(), Duration::ZERO).await?;
    let b = second.lock_session(&"b".into(), Duration::ZERO).await?;
    let c = first.lock_session(&"c".into(), Duration::ZERO).await?;
    assert!(held.is_exclusive() && b.is_exclusive() && c.is_exclusive());
    // Each of them is held.
    for id in ["a", "b", "c"] {
        let session = SessionId::new(id);
        assert_busy(
            second.lock_session(&session, Duration::ZERO).await,
            &session,
            Duration::ZERO,
        );
    }
    Ok(())
}

pub(crate) async fn a_waiting_holder_gets_the_session_when_it_is_released(
    db: TestDb,
) -> anyhow::Result<()> {
    let (first, second) = (db.open().await?, db.open().await?);
    let session = SessionId::new("s");
    let lease = first.lock_session(&session, Duration::ZERO).await?;
    let waiter = tokio::spawn({
        let (second, session) = (second.clone(), session.clone());
        async move {
            let lease = second.lock_session(&session, PLENTY * 3).await;
            (lease, Instant::now())
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished(), "the waiter got a held session");
    let released = Instant::now();
    lease.release().await;
    let (lease, got) = waiter.await?;
    let lease = lease?;
    assert!(got >= released && got - released < PLENTY, "{got:?}");
    // Now the waiter holds it.
    assert_busy(
        first.lock_session(&session, Duration::ZERO).await,
        &session,
        Duration::ZERO,
    );
    lease.release().await;
    Ok(())
}
