//! Opening a database: checks that never modify the file, connection settings, migrations.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};

use super::checkpoint::Checkpointer;
use crate::error::{code, sqlite_code, sqlite_extended_code, Error};

/// The schema migrations in `memory/migrations/sqlite/`, embedded at build time.
static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// How long a connection waits for another one's write lock before giving up.
///
/// Writers in this process queue on the one writer connection instead; this covers other
/// processes (two agents on one database) and checkpoints.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an operation waits for a pooled connection (writers queue here).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(120);

/// Read connections per database.
const READERS: u32 = 4;

/// The first bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// How hard a commit works to survive a crash.
///
/// Both levels survive the process being killed (SIGKILL, OOM killer, panic=abort) at any
/// moment: with WAL a commit is complete once it is in the write-ahead log, and the log lives
/// in the operating system's page cache, not in the process. They differ on an OS crash or
/// power loss.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// `synchronous = FULL`: every commit waits for the write-ahead log to reach the disk
    /// (one fsync), so committed steps also survive an OS crash or power loss. The default:
    /// an agent step costs a model call, next to which one fsync is noise, and the data is
    /// the user's.
    #[default]
    Full,
    /// `synchronous = NORMAL`: commits do not wait for the disk. Committed steps survive a
    /// killed process; an OS crash or power loss may roll back the most recent commits
    /// (the database stays consistent). For bulk loads and throwaway data.
    Normal,
}

impl Durability {
    fn synchronous(self) -> SqliteSynchronous {
        match self {
            Durability::Full => SqliteSynchronous::Full,
            Durability::Normal => SqliteSynchronous::Normal,
        }
    }
}

/// The connections of one open database.
#[derive(Debug, Clone)]
pub(crate) struct Pools {
    /// One connection: writers in this process queue for it rather than for the lock.
    pub(crate) writer: SqlitePool,
    /// Readers (`query_only`); in WAL mode they never wait for the writer.
    pub(crate) reader: SqlitePool,
    /// Checkpoints the write-ahead log in the background (database files only).
    pub(crate) checkpointer: Option<Arc<Checkpointer>>,
}

/// The newest schema version this build knows.
pub(crate) fn schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Opens (creating if missing) the database at `path` and migrates it.
pub(crate) async fn open_file(path: &Path, durability: Durability) -> Result<Pools, Error> {
    if check_file(path)? {
        probe(path).await?;
    } else if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }

    let options = SqliteConnectOptions::new()
        .filename(path)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    // WAL: readers never block the writer nor the writer readers, and a commit is one append
    // to the log. Durability (the `synchronous` level) is discussed on `Durability`.
    let writer_options = options
        .clone()
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(durability.synchronous())
        // Checkpoints run on their own connection (see `checkpoint`), not inside commits.
        .pragma("wal_autocheckpoint", "0");
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .connect_with(writer_options)
        .await
        .map_err(|e| classify(path, e))?;
    migrate(path, &writer).await?;
    let checkpoint_connection = options
        .clone()
        .connect()
        .await
        .map_err(|e| classify(path, e))?;

    let reader = SqlitePoolOptions::new()
        .max_connections(READERS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .connect_lazy_with(options.pragma("query_only", "ON"));
    Ok(Pools {
        writer,
        reader,
        checkpointer: Some(Arc::new(Checkpointer::start(checkpoint_connection))),
    })
}

/// A private in-memory database: one connection shared by readers and writers (a second
/// connection would see a different, empty database).
pub(crate) async fn open_in_memory() -> Result<Pools, Error> {
    let options = SqliteConnectOptions::new()
        .in_memory(true)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(Pools {
        writer: pool.clone(),
        reader: pool,
        checkpointer: None,
    })
}

async fn migrate(path: &Path, pool: &SqlitePool) -> Result<(), Error> {
    match MIGRATOR.run(pool).await {
        Ok(()) => Ok(()),
        Err(MigrateError::Execute(error)) => Err(classify(path, error)),
        Err(error) => Err(error.into()),
    }
}

/// Checks an existing file without modifying it. Returns whether it exists.
fn check_file(path: &Path) -> Result<bool, Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(e)),
    };
    if !metadata.is_file() {
        return Err(Error::NotADatabase {
            path: path.to_path_buf(),
        });
    }
    let mut header = Vec::with_capacity(SQLITE_MAGIC.len());
    std::fs::File::open(path)
        .and_then(|file| {
            file.take(SQLITE_MAGIC.len() as u64)
                .read_to_end(&mut header)
        })
        .map_err(io)?;
    // An empty file is an empty database to SQLite.
    if !header.is_empty() && header != SQLITE_MAGIC {
        return Err(Error::NotADatabase {
            path: path.to_path_buf(),
        });
    }
    // Refuse files marked read-only even where we could write them anyway (as root): the mark
    // says someone does not want this file changed.
    let read_only = || Error::ReadOnly {
        path: path.to_path_buf(),
    };
    if metadata.permissions().readonly() {
        return Err(read_only());
    }
    if let Err(e) = std::fs::OpenOptions::new().append(true).open(path) {
        return Err(match e.kind() {
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                read_only()
            }
            _ => io(e),
        });
    }
    // WAL mode creates `-wal` and `-shm` files beside the database.
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        if std::fs::metadata(dir).is_ok_and(|m| m.permissions().readonly()) {
            return Err(read_only());
        }
    }
    Ok(true)
}

/// Looks inside an existing database: it must be ours (or empty) and not from a newer schema.
///
/// A read-only connection looks first. A file a killed process left mid-transaction (a hot
/// journal) cannot be read until a writer rolls it back: then a read-write connection looks,
/// and its first read recovers the file, as any SQLite writer would.
async fn probe(path: &Path) -> Result<(), Error> {
    let (tables, applied) = match tables_and_versions(path, true).await {
        Err(error)
            if sqlite_extended_code(&error)
                .is_some_and(|c| code::READONLY_NEEDS_RECOVERY.contains(&c)) =>
        {
            tables_and_versions(path, false).await
        }
        other => other,
    }
    .map_err(|e| classify(path, e))?;
    if tables.iter().any(|t| t == "_sqlx_migrations") {
        let known: BTreeSet<i64> = MIGRATOR.iter().map(|m| m.version).collect();
        if let Some(found) = applied.iter().filter(|v| !known.contains(v)).max() {
            return Err(Error::FutureSchema {
                path: path.to_path_buf(),
                found: *found,
                supported: schema_version(),
            });
        }
    } else if !tables.is_empty() {
        return Err(Error::ForeignDatabase {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// The database's tables and views, and the schema versions applied to it.
async fn tables_and_versions(
    path: &Path,
    read_only: bool,
) -> Result<(Vec<String>, Vec<i64>), sqlx::Error> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(read_only)
        .connect()
        .await?;
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
            .fetch_all(&mut conn)
            .await?;
    let applied = if tables.iter().any(|t| t == "_sqlx_migrations") {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
            .fetch_all(&mut conn)
            .await?
    } else {
        Vec::new()
    };
    conn.close().await?;
    Ok((tables, applied))
}

/// Turns SQLite's "read-only" and "not a database" codes into their typed errors.
fn classify(path: &Path, error: sqlx::Error) -> Error {
    match sqlite_code(&error) {
        Some(code::READONLY) => Error::ReadOnly {
            path: path.to_path_buf(),
        },
        Some(code::NOTADB) => Error::NotADatabase {
            path: path.to_path_buf(),
        },
        Some(code::CANTOPEN) if path.parent().is_some_and(readonly_dir) => Error::ReadOnly {
            path: path.to_path_buf(),
        },
        _ => Error::Sqlx(error),
    }
}

fn readonly_dir(dir: &Path) -> bool {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::metadata(dir).is_ok_and(|m| m.permissions().readonly())
}

/// The per-user default database path, from the environment: `$XDG_DATA_HOME/argus/memory.db`,
/// else the platform's data directory under `$HOME` (`~/.local/share` on Linux,
/// `~/Library/Application Support` on macOS), or `%LOCALAPPDATA%` on Windows.
pub(crate) fn default_path_from(env: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let dir = |name: &str| {
        env(name)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    let base = dir("XDG_DATA_HOME").or_else(|| {
        if cfg!(windows) {
            dir("LOCALAPPDATA").or_else(|| dir("APPDATA"))
        } else if cfg!(target_os = "macos") {
            dir("HOME").map(|home| home.join("Library").join("Application Support"))
        } else {
            dir("HOME").map(|home| home.join(".local").join("share"))
        }
    })?;
    Some(base.join("argus").join("memory.db"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn default_path_prefers_xdg_and_ignores_relative_dirs() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| OsString::from(value))
            }
        };
        assert_eq!(
            default_path_from(env(&[("XDG_DATA_HOME", "/data"), ("HOME", "/home/a")])),
            Some(PathBuf::from("/data/argus/memory.db"))
        );
        assert_eq!(
            default_path_from(env(&[("XDG_DATA_HOME", "rel"), ("HOME", "/home/a")])),
            Some(PathBuf::from("/home/a/.local/share/argus/memory.db"))
        );
        assert_eq!(default_path_from(env(&[])), None);
    }

    #[test]
    fn schema_version_is_the_newest_migration() {
        assert!(schema_version() >= 20261127104500);
    }
}
