//! Errors of opening a memory database, and the mapping of database failures into
//! [`MemoryError`].

use std::path::PathBuf;

use argus_core::MemoryError;

/// Why a memory database could not be opened or migrated.
///
/// Every variant that names a path guarantees the file was left as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file exists but is not an SQLite database.
    #[error("`{}` is not an SQLite database; it was left untouched", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The file is an SQLite database of another program: it has tables but no migration
    /// history, so memory tables are not added to it.
    #[error(
        "`{}` is an SQLite database of another program (it has tables but no Argus schema history); \
         it was left untouched",
        path.display()
    )]
    ForeignDatabase {
        /// The file.
        path: PathBuf,
    },
    /// The file (or its directory) cannot be written, and memory must write to it.
    #[error(
        "`{}` is read-only: Argus memory needs to write the database and, beside it, its `-wal` \
         and `-shm` files; check the permissions of the file and its directory",
        path.display()
    )]
    ReadOnly {
        /// The file.
        path: PathBuf,
    },
    /// The database was migrated by a newer version of this crate.
    #[error(
        "`{}` has schema version {found}, newer than the {supported} this build of Argus knows; \
         upgrade Argus to open it (the file was left untouched)",
        path.display()
    )]
    FutureSchema {
        /// The file.
        path: PathBuf,
        /// The newest schema version recorded in the file.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// A file-system operation around the database failed (creating its directory, reading
    /// its header).
    #[error("cannot open `{}`: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The database URL cannot be used.
    #[error("`{url}` is not a usable PostgreSQL URL: {reason}")]
    InvalidUrl {
        /// The URL, without credentials.
        url: String,
        /// Why.
        reason: String,
    },
    /// The PostgreSQL server did not answer (not running, wrong host or port, a firewall).
    #[error("cannot reach the PostgreSQL server at `{url}`: {reason}")]
    ServerUnreachable {
        /// The URL, without credentials.
        url: String,
        /// The cause, as the connection reported it.
        reason: String,
    },
    /// The PostgreSQL server refused the user name or password.
    #[error("the PostgreSQL server at `{url}` refused the login: wrong user name or password")]
    ServerLoginRefused {
        /// The URL, without credentials.
        url: String,
    },
    /// The PostgreSQL database has tables but no Argus schema history, so memory tables are
    /// not added to it.
    #[error(
        "`{url}` is a database of another program (it has tables but no Argus schema history); \
         it was left untouched"
    )]
    ServerForeignDatabase {
        /// The URL, without credentials.
        url: String,
    },
    /// The PostgreSQL database was migrated by a newer version of this crate.
    #[error(
        "`{url}` has schema version {found}, newer than the {supported} this build of Argus \
         knows; upgrade Argus to use it (the database was left untouched)"
    )]
    ServerFutureSchema {
        /// The URL, without credentials.
        url: String,
        /// The newest schema version recorded in the database.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// Applying the schema migrations failed.
    #[error("migrating the memory database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database reported an error.
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
}

impl From<Error> for MemoryError {
    fn from(error: Error) -> Self {
        MemoryError::Backend {
            message: format!("memory: {error}"),
            source: Some(Box::new(error)),
        }
    }
}

/// Maps a database error met while doing `what` in `store` into a [`MemoryError`].
pub(crate) fn failed(
    store: &'static str,
    what: &'static str,
) -> impl Fn(sqlx::Error) -> MemoryError + Copy {
    move |error| MemoryError::Backend {
        message: format!("{store} memory: {what}: {error}"),
        source: Some(Box::new(error)),
    }
}

/// A stored row that cannot be turned back into a value (hand-edited or corrupted).
pub(crate) fn corrupt(what: impl std::fmt::Display) -> MemoryError {
    MemoryError::backend(format!("memory: corrupt row: {what}"))
}

/// The primary SQLite result code of `error`, if it came from SQLite.
pub(crate) fn sqlite_code(error: &sqlx::Error) -> Option<i32> {
    sqlite_extended_code(error).map(|code| code & 0xff)
}

/// The extended SQLite result code of `error`, if it came from SQLite.
pub(crate) fn sqlite_extended_code(error: &sqlx::Error) -> Option<i32> {
    let sqlx::Error::Database(error) = error else {
        return None;
    };
    error.code()?.parse().ok()
}

/// SQLite's primary result codes this crate branches on.
pub(crate) mod code {
    /// SQLITE_READONLY.
    pub(crate) const READONLY: i32 = 8;
    /// SQLITE_CANTOPEN.
    pub(crate) const CANTOPEN: i32 = 14;
    /// SQLITE_NOTADB.
    pub(crate) const NOTADB: i32 = 26;
    /// The extended read-only codes of a database a writer must recover first (a hot journal
    /// or write-ahead log left by a killed process): SQLITE_READONLY_RECOVERY,
    /// SQLITE_READONLY_ROLLBACK and SQLITE_READONLY_CANTINIT.
    pub(crate) const READONLY_NEEDS_RECOVERY: [i32; 3] = [264, 776, 1288];
}
