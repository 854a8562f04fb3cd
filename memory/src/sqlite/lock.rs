//! Sessions held by runs across processes: one lock file per session beside the database,
//! locked with the operating system's file locks, which a killed process releases at once.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use argus_core::{async_trait, HeldSession, MemoryError, SessionId, SessionLease};
use sha2::{Digest, Sha256};

/// The longest pause between two tries while waiting for a held session.
const MAX_POLL: Duration = Duration::from_millis(50);

/// The lock files of one database: `<database>-sessions/<sha256 of the session id>`.
#[derive(Debug, Clone)]
pub(crate) struct SessionFiles {
    dir: PathBuf,
}

impl SessionFiles {
    /// The lock files of the database at `path`.
    pub(crate) fn beside(path: &Path) -> Self {
        let mut dir = path.as_os_str().to_owned();
        dir.push("-sessions");
        SessionFiles { dir: dir.into() }
    }

    /// Holds `session`, trying again until `wait` has passed.
    pub(crate) async fn lock(
        &self,
        session: &SessionId,
        wait: Duration,
    ) -> Result<SessionLease, MemoryError> {
        let path = self.dir.join(hex(&Sha256::digest(session.as_str())));
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(2);
        loop {
            if let Some(file) = self.try_lock(&path)? {
                return Ok(SessionLease::new(LockedFile { _file: file }));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(MemoryError::SessionBusy {
                    session: session.clone(),
                    waited: wait,
                });
            }
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(MAX_POLL);
        }
    }

    fn try_lock(&self, path: &Path) -> Result<Option<File>, MemoryError> {
        let io = |what: &str, error: std::io::Error| MemoryError::Backend {
            message: format!("sqlite memory: {what} `{}`: {error}", path.display()),
            source: Some(Box::new(error)),
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| io("creating the lock folder of", e))?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| io("opening the session lock", e))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(io("locking the session lock", e)),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A locked session file; closing it releases the lock.
struct LockedFile {
    _file: File,
}

#[async_trait]
impl HeldSession for LockedFile {
    async fn release(self: Box<Self>) {
        // Unlocked when the file is closed, on drop.
    }
}
