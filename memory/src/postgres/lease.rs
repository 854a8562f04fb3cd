//! Sessions held by runs: a session-level advisory lock on a connection of the lease's own.
//! The server releases it when the connection ends, so a killed process frees its sessions at
//! once.

use std::time::{Duration, Instant};

use argus_core::{async_trait, HeldSession, MemoryError, SessionId, SessionLease};
use sha2::{Digest, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

use super::db;

/// The longest pause between two tries while waiting for a held session.
const MAX_POLL: Duration = Duration::from_millis(50);

/// The advisory lock key of a session: 64 bits of the SHA-256 of its id, so sessions not yet
/// created have one too.
fn lock_key(session: &SessionId) -> i64 {
    let digest = Sha256::digest(format!("argus.session:{session}"));
    let mut key = [0u8; 8];
    key.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(key)
}

/// Holds `session` on a connection from `leases`, trying again until `wait` has passed.
pub(crate) async fn lock(
    leases: &PgPool,
    session: &SessionId,
    wait: Duration,
) -> Result<SessionLease, MemoryError> {
    let key = lock_key(session);
    let deadline = Instant::now() + wait;
    let busy = || MemoryError::SessionBusy {
        session: session.clone(),
        waited: wait,
    };
    // Every held session has a connection of its own: when all are holding one, a run waits
    // for a connection like for any pooled one (up to the connect timeout), whatever its
    // session's wait. That is a full pool, not a busy session.
    let mut conn = leases.acquire().await.map_err(|error| match error {
        sqlx::Error::PoolTimedOut => MemoryError::backend(format!(
            "postgres memory: all {} connections that hold sessions are in use; raise \
             PostgresOptions::max_held_sessions",
            leases.options().get_max_connections()
        )),
        other => db("connecting to hold a session")(other),
    })?;
    let mut pause = Duration::from_millis(2);
    loop {
        let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await
            .map_err(db("holding a session"))?;
        if held {
            return Ok(SessionLease::new(AdvisoryLock {
                conn: Some(conn),
                key,
            }));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(busy());
        }
        tokio::time::sleep(pause.min(left)).await;
        pause = (pause * 2).min(MAX_POLL);
    }
}

/// A session's advisory lock and the connection holding it.
struct AdvisoryLock {
    conn: Option<PoolConnection<Postgres>>,
    key: i64,
}

#[async_trait]
impl HeldSession for AdvisoryLock {
    async fn release(mut self: Box<Self>) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let unlocked = sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .fetch_one(&mut *conn)
            .await;
        match unlocked {
            // Back to the pool, holding nothing.
            Ok(true) => drop(conn),
            // The connection may still hold the lock: closing it releases it.
            Ok(false) | Err(_) => drop(conn.detach()),
        }
    }
}

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        // Dropped without `release` (a cancelled run): the lock must not go back to the pool
        // with the connection, so the connection is closed instead.
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
        }
    }
}
