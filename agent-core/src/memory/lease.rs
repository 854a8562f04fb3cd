//! One run at a time per session: the [`SessionLease`] a run holds, and [`SessionLocks`], the
//! in-process locks of stores that live in one process.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use super::{MemoryError, SessionId};

/// What a store keeps while a run holds a session (a lock, a connection). Dropping it must
/// release the session, if only later (a connection closed in the background).
#[async_trait]
pub trait HeldSession: Send + Sync {
    /// Releases the session now.
    async fn release(self: Box<Self>);
}

/// A run's exclusive hold on a session, from [`RunLog::lock_session`](super::RunLog::lock_session):
/// while it lives, no other run (in this process or another sharing the store) commits steps to
/// the session. Released by [`release`](Self::release), or on drop.
#[must_use = "the session is released when the lease is dropped"]
pub struct SessionLease {
    held: Option<Box<dyn HeldSession>>,
}

impl SessionLease {
    /// A lease over what a store holds.
    pub fn new(held: impl HeldSession + 'static) -> Self {
        SessionLease {
            held: Some(Box::new(held)),
        }
    }

    /// A lease that excludes nothing: from stores that keep no locks.
    pub fn unguarded() -> Self {
        SessionLease { held: None }
    }

    /// Whether the lease excludes other runs.
    pub fn is_exclusive(&self) -> bool {
        self.held.is_some()
    }

    /// Releases the session now (dropping the lease releases it too, perhaps later).
    pub async fn release(mut self) {
        if let Some(held) = self.held.take() {
            held.release().await;
        }
    }
}

impl fmt::Debug for SessionLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLease")
            .field("exclusive", &self.is_exclusive())
            .finish()
    }
}

type LockMap = Arc<Mutex<HashMap<SessionId, Arc<AsyncMutex<()>>>>>;

/// Per-session locks inside one process, for stores no other process reaches
/// ([`InMemoryMemory`](super::InMemoryMemory), an in-memory SQLite database). Clones share the
/// locks.
#[derive(Debug, Clone, Default)]
pub struct SessionLocks {
    locks: LockMap,
}

impl SessionLocks {
    /// Holds `session`, waiting up to `wait` for the run holding it; then
    /// [`MemoryError::SessionBusy`].
    pub async fn lock(
        &self,
        session: &SessionId,
        wait: Duration,
    ) -> Result<SessionLease, MemoryError> {
        let lock = self
            .locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(session.clone())
            .or_default()
            .clone();
        let guard = match lock.clone().try_lock_owned() {
            Ok(guard) => Some(guard),
            Err(_) if wait.is_zero() => None,
            Err(_) => tokio::time::timeout(wait, lock.lock_owned()).await.ok(),
        };
        let Some(guard) = guard else {
            self.forget_if_unused(session);
            return Err(MemoryError::SessionBusy {
                session: session.clone(),
                waited: wait,
            });
        };
        Ok(SessionLease::new(LocalHold {
            guard: Some(guard),
            session: session.clone(),
            locks: self.clone(),
        }))
    }

    /// Drops the session's entry when nobody holds or waits for it.
    fn forget_if_unused(&self, session: &SessionId) {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        if locks
            .get(session)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            locks.remove(session);
        }
    }
}

/// A session held through [`SessionLocks`].
struct LocalHold {
    guard: Option<OwnedMutexGuard<()>>,
    session: SessionId,
    locks: SessionLocks,
}

#[async_trait]
impl HeldSession for LocalHold {
    async fn release(self: Box<Self>) {}
}

impl Drop for LocalHold {
    fn drop(&mut self) {
        drop(self.guard.take());
        self.locks.forget_if_unused(&self.session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_held_session_is_busy_until_released() {
        let locks = SessionLocks::default();
        let a = SessionId::new("a");
        let lease = locks.lock(&a, Duration::ZERO).await.unwrap();
        assert!(lease.is_exclusive());
        let busy = locks.lock(&a, Duration::from_millis(20)).await.unwrap_err();
        assert!(
            matches!(&busy, MemoryError::SessionBusy { session, waited }
                if session == &a && *waited == Duration::from_millis(20)),
            "{busy}"
        );
        // Another session is free.
        let other = locks.lock(&SessionId::new("b"), Duration::ZERO).await;
        assert!(other.is_ok());
        lease.release().await;
        let again = locks.lock(&a, Duration::ZERO).await.unwrap();
        drop(again);
        assert!(locks.lock(&a, Duration::ZERO).await.is_ok());
    }

    #[tokio::test]
    async fn a_waiting_run_gets_the_session_when_it_is_released() {
        let locks = SessionLocks::default();
        let a = SessionId::new("a");
        let lease = locks.lock(&a, Duration::ZERO).await.unwrap();
        let waiter = {
            let locks = locks.clone();
            let a = a.clone();
            tokio::spawn(async move { locks.lock(&a, Duration::from_secs(10)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        drop(lease);
        assert!(waiter.await.unwrap().is_ok());
        assert!(locks.locks.lock().unwrap().is_empty());
    }
}
