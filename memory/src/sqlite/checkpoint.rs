//! Checkpointing the write-ahead log off the commit path.
//!
//! SQLite's automatic checkpoint runs inside the commit that grows the log past 1,000 pages,
//! so about one append in a hundred paid for copying the log into the database file and
//! syncing it. Database files opened here turn that off on the writer and leave the work to
//! a background task with its own connection: a short while after writes it runs a passive
//! checkpoint, which never waits for (nor blocks) the writer or readers. The log is reused
//! from its start once a checkpoint has caught up, so it stays small.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::SqliteConnection;
use sqlx::Connection;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How long the task lets writes gather before checkpointing them together.
const GATHER: Duration = Duration::from_millis(1000);

/// State shared by the handle and the task.
#[derive(Debug, Default)]
struct Shared {
    wake: Notify,
    stopping: AtomicBool,
}

/// The handle of the background checkpoint task of one open database; the task stops when
/// the last handle is dropped or [`close`](Checkpointer::close) is called.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// Starts the task on `connection` (a connection of its own to the database file).
    pub(crate) fn start(connection: SqliteConnection) -> Checkpointer {
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(run(connection, shared.clone()));
        Checkpointer {
            shared,
            task: Mutex::new(Some(task)),
        }
    }

    /// Tells the task that the log has grown.
    pub(crate) fn wrote(&self) {
        self.shared.wake.notify_one();
    }

    /// Stops the task and waits until its connection is closed.
    pub(crate) async fn close(&self) {
        self.stop();
        let task = self.task.lock().map(|mut task| task.take()).unwrap_or(None);
        if let Some(task) = task {
            // A panic inside the task has nothing left to clean up.
            let _ = task.await;
        }
    }

    fn stop(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn run(mut connection: SqliteConnection, shared: Arc<Shared>) {
    loop {
        shared.wake.notified().await;
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(GATHER).await;
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut connection)
            .await
        {
            // The next checkpoint (or the one SQLite runs when the last connection closes)
            // catches up; nothing is lost, the log only stays longer.
            tracing::warn!(%error, "background checkpoint failed");
        }
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
    }
    if let Err(error) = connection.close().await {
        tracing::warn!(%error, "closing the checkpoint connection failed");
    }
}
